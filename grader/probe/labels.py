"""The labels of the probe's actions: a plan names each action, and the probe answers by the same name.

Standard library only (this folder runs inside the grader's containers). The grader's plan builders
and the collectors that read the answers both use these names; no check reads them.
"""

from __future__ import annotations

# The registry snapshot (``do: mlflow``).
REGISTRY = "mlflow"

# Serving: metrics scraped around a window of exactly the requests the grader sent, then the other traffic.
SCRAPE_BEFORE = "scrape-before"
COUNTER_WINDOW = "counter-window"
SCRAPE_AFTER = "scrape-after"
PARITY = "parity"
MALFORMED = "malformed"
AFTER_MALFORMED = "after-malformed"
LOAD = "load"

# Drift, in the order the probe runs them.
SIGNAL_AT_START = "drift-signal-at-start"
BASELINE_BATCH = "drift-baseline-batch"
SIGNAL_AFTER_BASELINE = "drift-signal-after-baseline"
SHIFTED_BATCH = "drift-shifted-batch"
SIGNAL_AFTER_SHIFT = "drift-signal-after-shift"

# The promotion drill: the answers before it, the two alias moves and the watch after each.
BEFORE_DRILL = "before"
MOVE_TO_SENTINEL = "move-to-sentinel"
MOVE_BACK = "move-back"
PROMOTION = "promotion"
ROLLBACK = "rollback"
