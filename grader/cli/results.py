"""``grader results``: what the results store recorded."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from grader.paths import ProjectPaths


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    results = commands.add_parser("results", help="list recorded grading results")
    results.add_argument("--lab", help="only this lab")
    results.add_argument("--limit", type=int, default=20)
    results.add_argument("--show", metavar="RUN_ID",
                         help="print one run's candidate report (review points and overrides once released)")
    results.add_argument("--format", choices=("md", "json"), default="md", help="format of --show (default: md)")


def cmd_results(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.results.store import ResultStore

    if args.show:
        return _show_candidate_report(args.show, args.format, paths)
    table = Table("run", "lab", "submission", "score", "passed", "finished")
    with ResultStore(paths.results_db) as store:
        for run in store.list(args.lab, args.limit):
            table.add_row(run.run_id, run.lab_id, run.submission_source, f"{run.score:g}/{run.max_score:g}",
                          "yes" if run.passed else "no", run.finished_at)
    Console().print(table)
    return 0


def _show_candidate_report(run_id: str, fmt: str, paths: ProjectPaths) -> int:
    import sys

    from grader.errors import BadInputError
    from grader.results.store import ResultStore
    from grader.review.release import released_outputs

    with ResultStore(paths.results_db) as store:
        report = store.get(run_id)
    if report is None:
        raise BadInputError(f"no graded run {run_id!r} in {paths.results_db} (see `grader results`)")
    markdown, as_json = released_outputs(paths.results_db, report)
    sys.stdout.write(markdown if fmt == "md" else as_json)
    return 0


COMMANDS = {"results": cmd_results}
