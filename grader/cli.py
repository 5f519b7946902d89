"""The ``grader`` command: parse arguments, call the library, print, exit with a meaningful code.

Exit codes: 0 graded and passed · 1 graded, not passed · 2 bad input (usage, invalid lab or rubric,
unusable submission) · 3 infrastructure failure (no engine, image build failed, engine lost) ·
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader import __version__
from grader.errors import BadInputError, GraderError
from grader.paths import ProjectPaths, project_paths

EXIT_PASSED, EXIT_NOT_PASSED, EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _UsageError(BadInputError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Auto-grade MLOps capstone labs in sandboxes.")
    parser.add_argument("--version", action="version", version=f"capstone-grader {__version__}")
    parser.add_argument("--home", help="project folder with labs/, rubrics/, sandboxes/ (default: this checkout)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    grade = commands.add_parser("grade", help="grade a submission against a lab")
    grade.add_argument("submission", help="a directory, a git repository (path or URL) or a .zip/.tar.gz archive")
    grade.add_argument("--lab", required=True, help="lab id (see `grader lab list`) or a lab folder")
    grade.add_argument("--ref", help="git ref to grade when the submission is a repository (default: HEAD)")
    grade.add_argument("--out", type=Path, help="folder for report.json/.md/.html (default: grader-reports/LAB-RUN)")
    grade.add_argument("--json", action="store_true", help="print report.json to stdout")
    grade.add_argument("--format", default="json,md,html", help="report formats to write (default: json,md,html)")
    grade.add_argument("--backend", default=os.environ.get("GRADER_BACKEND", "docker"), help="sandbox backend")
    grade.add_argument("--runtime", default=os.environ.get("GRADER_RUNTIME") or None,
                       help="OCI runtime for every container, e.g. runsc (gVisor); refused (exit 3) when the engine "
                       "does not offer it (default: GRADER_RUNTIME, else the lab's sandbox.runtime or the engine's)")
    grade.add_argument("--no-store", action="store_true", help="do not record the result in the results database")
    grade.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    lab = commands.add_parser("lab", help="list and inspect labs").add_subparsers(
        dest="lab_command", metavar="ACTION", parser_class=_Parser, required=True)
    lab.add_parser("list", help="list the labs")
    show = lab.add_parser("show", help="show a lab's steps, services and rubric")
    show.add_argument("lab")
    new = lab.add_parser("new", help="scaffold a lab: lab.yaml, rubric, a passing reference and a broken variant")
    new.add_argument("id", help="the new lab's id: lowercase letters, digits, _ . - (e.g. my-first-lab)")
    new.add_argument("--dir", type=Path, help="folder to create the lab in (default: labs/ of the grader's home)")
    new.add_argument("--from", dest="template", default="basic", help="scaffold template (default: basic)")
    new.add_argument("--title", help="the lab's title (default: made from the id)")

    rubric = commands.add_parser("rubric", help="validate rubrics").add_subparsers(
        dest="rubric_command", metavar="ACTION", parser_class=_Parser, required=True)
    validate = rubric.add_parser("validate", help="validate a rubric or lab file (or a lab folder)")
    validate.add_argument("path", type=Path)
    rubric_test = rubric.add_parser(
        "test", help="grade a lab's reference (full marks expected) and every variant (declared losses expected)")
    rubric_test.add_argument("lab", help="lab id or folder")

    checks = commands.add_parser("checks", help="list the check types")
    checks.set_defaults(command="checks")

    schema = commands.add_parser("schema", help="JSON Schemas of lab.yaml, rubrics, variant.yaml and capstone.yaml")
    schema.add_argument("kind", nargs="?", default="all", help="lab, rubric, variant, manifest or all (default)")
    schema.add_argument("--out", type=Path, help="write KIND.schema.json files to this folder (default: print one)")

    images = commands.add_parser("images", help="build the sandbox images ahead of grading")
    images.add_argument("names", nargs="*", default=["runtime"], help="image definitions in sandboxes/")

    cleanup = commands.add_parser("cleanup", help="remove containers, networks and volumes left by the grader")
    cleanup.add_argument("--run", help="only this run id")
    cleanup.add_argument("--dead-only", action="store_true", help="only runs whose grader process is gone")

    results = commands.add_parser("results", help="list recorded grading results")
    results.add_argument("--lab", help="only this lab")
    results.add_argument("--limit", type=int, default=20)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    err = Console(stderr=True)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return EXIT_BAD_INPUT
        paths = project_paths(args.home)
        return COMMANDS[args.command](args, paths, err)
    except GraderError as exc:
        err.print(f"[red]error:[/red] {terminal_safe(str(exc))}", markup=True, highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: the sandbox was torn down")
        return EXIT_INTERRUPTED
    except Exception as exc:
        log = _write_crash_log(exc)
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {terminal_safe(str(exc))}\nDetails: {log}")
        return EXIT_INFRASTRUCTURE


def terminal_safe(text: str) -> str:
    """Text that may name a submission's entries, for rich: no escape sequences, no markup (an entry named
    ``[/]`` would otherwise crash the error handler, and ``[link=...]`` would fake a hyperlink)."""
    from grader.report.text import clean_text

    return escape(clean_text(text))


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _write_crash_log(exc: BaseException) -> Path:
    log = Path(os.environ.get("GRADER_CRASH_LOG", Path.home() / ".cache" / "capstone-grader" / "crash.log"))
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"--- {datetime.now(UTC).isoformat()} capstone-grader {__version__} "
                     f"python {platform.python_version()} {platform.platform()}\n")
        handle.write("".join(traceback.format_exception(exc)))
    return log


def cmd_grade(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.console import ConsoleObserver, summary_table
    from grader.engines import make_engine
    from grader.report import render
    from grader.run import GradeOptions, grade_submission

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


def cmd_lab(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs import list_lab_ids, load_lab, load_variants

    out = Console()
    if args.lab_command == "new":
        return _lab_new(args, paths, err)
    if args.lab_command == "list":
        from grader.labs import lab_origins

        origins = lab_origins(paths)
        table = Table("lab", "version", "title", "checks", "points", "from")
        for lab_id in list_lab_ids(paths):
            loaded = load_lab(lab_id, paths)
            rubric = loaded.rubric.rubric
            table.add_row(lab_id, loaded.lab.version, loaded.lab.title, str(len(rubric.checks)),
                          f"{rubric.max_score:g}", origins[lab_id])
        out.print(table)
        return 0
    loaded = load_lab(args.lab, paths)
    lab, rubric = loaded.lab, loaded.rubric.rubric
    out.print(f"[bold]{lab.title}[/bold] ({lab.id} v{lab.version}) — image {lab.image}\n{lab.summary}")
    for step in lab.steps:
        out.print(f"  step    {step.id}: {step.run}")
    for service in lab.services:
        out.print(f"  service {service.id}: {service.run} (port {service.port})")
    table = Table("section", "check", "type", "points", "needs", "visibility",
                  title=f"rubric {rubric.id} v{rubric.version}, pass mark {rubric.pass_mark:.0%}")
    for section in rubric.sections:
        for check in section.checks:
            table.add_row(section.id, check.id, check.type, f"{check.points:g}", ", ".join(check.needs),
                          check.visibility.value)
    out.print(table)
    variants = load_variants(loaded)
    for name, variant in variants.items():
        out.print(f"  variant {name}: {variant.description} (loses {', '.join(variant.loses)})")
    return 0


def cmd_rubric(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs import LAB_FILE, load_lab, load_rubric

    if args.rubric_command == "test":
        return _rubric_test(args.lab, paths, err)

    path: Path = args.path
    if path.is_dir() or path.name == LAB_FILE:
        loaded = load_lab(str(path), paths)
        Console().print(f"[green]valid[/green] lab {loaded.lab.id} with rubric {loaded.rubric.path}")
        return 0
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    rubric = load_rubric(path).rubric
    Console().print(f"[green]valid[/green] rubric {rubric.id}: {len(rubric.checks)} checks, "
                    f"{rubric.max_score:g} points")
    return 0


def _rubric_test(lab: str, paths: ProjectPaths, err: Console) -> int:
    from rich.markup import escape

    from grader.engines import DockerEngine
    from grader.rubric_test import CaseResult, test_rubric

    def show(case: CaseResult) -> None:
        mark = "[green]✔[/green]" if case.ok else "[red]✘[/red]"
        err.print(f"{mark} {escape(case.name)}: {case.score:g}/{case.max_score:g}")
        for problem in case.problems:
            err.print(f"    [red]{escape(problem)}[/red]")

    result = test_rubric(lab, paths, DockerEngine(paths, runtime=os.environ.get("GRADER_RUNTIME") or None), show)
    if result.untested:
        err.print(f"[yellow]untested checks[/yellow] (no variant makes them fail): {', '.join(result.untested)}")
    failed = [case.name for case in result.cases if not case.ok]
    verdict = f"[red]{len(failed)} of {len(result.cases)} failed[/red]" if failed else "[green]all as declared[/green]"
    Console().print(f"rubric test of {result.lab_id}: {verdict}")
    return EXIT_NOT_PASSED if failed else EXIT_PASSED


def _lab_new(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs import list_lab_ids
    from grader.scaffold import check_new_lab_id, create_lab

    check_new_lab_id(args.id, list_lab_ids(paths))
    schemas = paths.root / "docs" / "schemas"
    folder = create_lab(args.id, args.dir or paths.labs, template=args.template, title=args.title,
                        schema_dir=schemas if schemas.is_dir() else None)
    shown = escape(str(folder))
    Console().print(f"[green]created[/green] lab {args.id} in {shown}")
    err.print(f"next: grader lab show {shown} · grader rubric validate {shown} · grader rubric test {shown}\n"
              "then edit lab.yaml, rubric.yaml, reference/ and variants/ (docs/authoring.md)")
    return 0


def cmd_checks(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.checks import all_check_types, check_type_origins
    from grader.checks.base import check_type_doc

    origins = check_type_origins()
    table = Table("type", "what it checks", "from")
    for name, check in sorted(all_check_types().items()):
        table.add_row(name, check_type_doc(check), origins[name])
    Console().print(table)
    return 0


def cmd_schema(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.schemas import SCHEMA_FILES, schema_text, write_schemas

    kinds = list(SCHEMA_FILES) if args.kind == "all" else [args.kind]
    if any(kind not in SCHEMA_FILES for kind in kinds):
        raise BadInputError(f"unknown schema {args.kind!r}; choose one of {', '.join(SCHEMA_FILES)} or all")
    if args.out is None:
        if len(kinds) > 1:
            raise BadInputError("give --out DIR to write every schema, or name one to print it: grader schema lab")
        sys.stdout.write(schema_text(kinds[0]))
        return 0
    for path in write_schemas(args.out, kinds):
        err.print(f"wrote {escape(str(path))}")
    return 0


def cmd_images(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.engines import DockerEngine

    engine = DockerEngine(paths)
    for name in args.names:
        tag, digest = engine.prepare_image(name, lambda line: err.print(f"[dim]{line}[/dim]", markup=False))
        Console().print(f"{name}: {tag} ({digest})")
    return 0


def cmd_cleanup(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.sandbox.docker import cleanup_leftovers, docker_client

    removed = cleanup_leftovers(docker_client(), run_id=args.run, only_dead_owners=args.dead_only)
    for line in removed:
        Console().print(f"removed {line}")
    err.print(f"{len(removed)} object(s) removed")
    return 0


def cmd_results(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.store import ResultStore

    table = Table("run", "lab", "submission", "score", "passed", "finished")
    with ResultStore(paths.results_db) as store:
        for run in store.list(args.lab, args.limit):
            table.add_row(run.run_id, run.lab_id, run.submission_source, f"{run.score:g}/{run.max_score:g}",
                          "yes" if run.passed else "no", run.finished_at)
    Console().print(table)
    return 0


COMMANDS = {
    "grade": cmd_grade, "lab": cmd_lab, "rubric": cmd_rubric, "checks": cmd_checks, "images": cmd_images,
    "cleanup": cmd_cleanup, "results": cmd_results, "schema": cmd_schema,
}

if __name__ == "__main__":
    sys.exit(main())
