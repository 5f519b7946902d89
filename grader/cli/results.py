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


def cmd_results(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.results.store import ResultStore

    table = Table("run", "lab", "submission", "score", "passed", "finished")
    with ResultStore(paths.results_db) as store:
        for run in store.list(args.lab, args.limit):
            table.add_row(run.run_id, run.lab_id, run.submission_source, f"{run.score:g}/{run.max_score:g}",
                          "yes" if run.passed else "no", run.finished_at)
    Console().print(table)
    return 0


COMMANDS = {"results": cmd_results}
