"""Code the grader runs *inside* sandbox containers (standard library only, no grader imports).

``agent.py`` is the trusted probe: it talks to the run's services over the run network and reports
raw observations as JSON. ``evaluate_model.py`` loads a candidate's registered model — untrusted
code — in its own container and prints its predictions. All judging happens on the host.
"""

from __future__ import annotations

from pathlib import Path

PROBE_DIR = Path(__file__).resolve().parent
MOUNT_POINT = "/opt/grader-probe"
PLAN_MOUNT = "/grader/plan"
RESULT_MARKER = "GRADER-PROBE-RESULT "
