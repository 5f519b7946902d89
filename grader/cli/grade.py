"""``grader grade``: grade one submission and write its reports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from grader.cli.console import EXIT_INFRASTRUCTURE, EXIT_NOT_PASSED, EXIT_PASSED, terminal_safe
from grader.cli.engine import add_engine_options
from grader.paths import ProjectPaths


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    grade = commands.add_parser("grade", help="grade a submission against a lab")
    grade.add_argument("submission", help="a directory, a git repository (path or URL) or a .zip/.tar.gz archive")
    grade.add_argument("--lab", required=True, help="lab id (see `grader lab list`) or a lab folder")
    grade.add_argument("--ref", help="git ref to grade when the submission is a repository (default: HEAD)")
    grade.add_argument("--out", type=Path, help="folder for report.json/.md/.html (default: grader-reports/LAB-RUN)")
    grade.add_argument("--json", action="store_true", help="print report.json to stdout")
    grade.add_argument("--format", default="json,md,html", help="report formats to write (default: json,md,html)")
    add_engine_options(grade)
    grade.add_argument("--no-store", action="store_true", help="do not record the result in the results database")
    grade.add_argument("-q", "--quiet", action="store_true", help="no progress output")



def cmd_grade(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.cli.console import ConsoleObserver, summary_table
    from grader.results.report import render
    from grader.run.orchestrate import GradeOptions, grade_submission
    from grader.sandbox import make_engine

    options = GradeOptions(out_dir=args.out, ref=args.ref, store=not args.no_store,
                           formats=tuple(f.strip() for f in args.format.split(",") if f.strip()))
    observer = None if args.quiet else ConsoleObserver(err)
    engine = make_engine(args.backend, paths, runtime=args.runtime)
    outcome = grade_submission(args.submission, args.lab, paths, engine, options, observer)
    report = outcome.report
    if args.json:
        sys.stdout.write(render(report, "json"))
    if not args.quiet:
        err.print(summary_table(report))
    for fmt, path in outcome.files.items():
        err.print(f"[dim]{fmt} report: {terminal_safe(str(path))}[/dim]")
    if report.outcome == "error":
        err.print(f"[red]error:[/red] {terminal_safe(report.error or '')}")
        return EXIT_INFRASTRUCTURE
    return EXIT_PASSED if report.passed else EXIT_NOT_PASSED


COMMANDS = {"grade": cmd_grade}
