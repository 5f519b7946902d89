from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train import GRID, RunResult, pick_best  # noqa: E402


def test_pick_best_takes_the_highest_validation_accuracy():
    results = [RunResult("a", {"C": 1.0}, 0.90), RunResult("b", {"C": 0.1}, 0.95), RunResult("c", {"C": 0.01}, 0.80)]
    assert pick_best(results).run_id == "b"


def test_the_grid_has_distinct_parameter_sets():
    assert len({tuple(sorted(p.items())) for p in GRID}) == len(GRID) >= 3
