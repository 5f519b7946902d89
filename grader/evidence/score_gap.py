"""How far a validation score may sit above the hidden-data score by chance alone.

Two scores of one model on two samples of one distribution differ by sampling noise. For a proportion such
as accuracy, the difference between a score ``a`` on ``n_a`` rows and ``b`` on ``n_b`` rows has standard
error ``sqrt(p (1 - p) (1/n_a + 1/n_b))`` with ``p`` the pooled score (the two-proportion z-test). A claimed
validation score more than ``z_limit`` standard errors above the hidden-data score is not chance: the model
was fitted or tuned on the validation rows (or the claim is inflated). For other metrics (macro F1) the same
bound is an approximation that treats the score as a proportion of its rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Never flag a gap smaller than this, whatever the sample sizes: a model selected on its validation score is
# expected to look slightly better there.
MIN_FLAGGED_GAP = 0.02


@dataclass(frozen=True)
class ScoreGap:
    """A validation score beside the hidden-data score, and whether chance explains the difference."""

    validation: float
    validation_rows: int
    hidden: float
    hidden_rows: int
    z: float  # standard errors by which validation exceeds hidden (negative: below)
    z_limit: float

    @property
    def gap(self) -> float:
        return self.validation - self.hidden

    @property
    def beyond_chance(self) -> bool:
        return self.gap >= MIN_FLAGGED_GAP and self.z > self.z_limit


def score_gap(validation: float, validation_rows: int, hidden: float, hidden_rows: int,
              z_limit: float = 3.0) -> ScoreGap:
    """The gap between a validation score and a hidden-data score, in standard errors of their difference."""
    if validation_rows <= 0 or hidden_rows <= 0:
        raise ValueError("both scores need at least one row")
    pooled = (validation * validation_rows + hidden * hidden_rows) / (validation_rows + hidden_rows)
    variance = pooled * (1 - pooled) * (1 / validation_rows + 1 / hidden_rows)
    # Both scores perfect (or both zero): no spread, and any difference at all is beyond chance.
    error = math.sqrt(variance) if variance > 0 else 1 / (validation_rows + hidden_rows)
    return ScoreGap(validation=validation, validation_rows=validation_rows, hidden=hidden, hidden_rows=hidden_rows,
                    z=(validation - hidden) / error, z_limit=z_limit)
