"""Benchmark: grade the reference capstone several times and compare with the bare pipeline.

Writes per-phase timings (min / median / max), the total grading time, the bare pipeline's time
(the same containers started with plain docker commands, no checks: scripts/bare-pipeline.sh) and
their ratio, plus the grader's peak memory, to a JSON file. Images must be built (make images).

    python scripts/bench.py --runs 3 --out bench/results.json
    python scripts/bench.py --cohort 20 --workers 1,2,3 --lab train-and-test --out bench/cohort.json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.labs.loading import load_lab
from grader.paths import project_paths
from grader.run.orchestrate import GradeOptions, grade_submission
from grader.sandbox import make_engine
from grader.sandbox.engine import Engine


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 2), "median": round(statistics.median(values), 2), "max": round(max(values), 2)}


def grade_once(lab_id: str, engine: Engine) -> dict[str, float]:
    paths = project_paths()
    lab = load_lab(lab_id, paths)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        outcome = grade_submission(str(lab.reference_dir), lab_id, paths, engine,
                                   GradeOptions(out_dir=Path(out), store=False))
        wall = time.perf_counter() - started
    report = outcome.report
    if report.score != report.max_score:
        failing = [c.id for c in report.checks if c.points < c.max_points]
        raise SystemExit(f"the reference did not get full marks ({report.score}/{report.max_score}): {failing}")
    return {**report.timing, "wall": wall}


def bare_once(image: str, reference: Path) -> dict[str, float]:
    completed = subprocess.run(["bash", "scripts/bare-pipeline.sh", image, str(reference)], capture_output=True,
                               text=True, timeout=600, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"bare pipeline failed:\n{completed.stderr[-2000:]}")
    stages = json.loads(completed.stdout.strip().splitlines()[-1])
    return {name: float(value) for name, value in stages.items() if name.endswith("_s")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lab", default="mlops-capstone")
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--cohort", type=int, help="instead: grade N submissions as one batch (bench_cohort.py)")
    parser.add_argument("--workers", default="1,2,3", help="with --cohort: the worker counts to time")
    args = parser.parse_args()
    if args.cohort:
        from bench_cohort import cohort_bench

        figures = cohort_bench(args.lab, args.cohort, [int(n) for n in args.workers.split(",")])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures, indent=2))
        return 0 if all(not run["incomplete"] for run in figures["runs"]) else 1

    paths = project_paths()
    engine = make_engine("docker", paths)  # the bare pipeline it is compared with is plain docker commands
    image_tag, _ = engine.prepare_image(load_lab(args.lab, paths).lab.image, lambda line: None)
    reference = load_lab(args.lab, paths).reference_dir

    grades = [grade_once(args.lab, engine) for _ in range(args.runs)]
    bare = [bare_once(image_tag, reference) for _ in range(args.runs)]
    phases = sorted({name for run in grades for name in run})
    result = {
        "lab": args.lab,
        "runs": args.runs,
        "image": image_tag,
        "grade_seconds": spread([g["wall"] for g in grades]),
        "bare_pipeline_seconds": spread([b["total_s"] for b in bare]),
        "bare_stages_seconds": {name: spread([b[name] for b in bare]) for name in bare[0]},
        "ratio_median": round(statistics.median(g["wall"] for g in grades)
                              / statistics.median(b["total_s"] for b in bare), 3),
        "phases_seconds": {name: spread([g.get(name, 0.0) for g in grades]) for name in phases},
        "grader_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
