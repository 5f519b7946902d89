"""``grader lab``, ``grader rubric``, ``grader checks``, ``grader schema``: authoring labs and rubrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.cli import check as check_cli
from grader.cli.console import EXIT_NOT_PASSED, EXIT_PASSED
from grader.cli.engine import add_engine_options
from grader.errors import BadInputError
from grader.paths import ProjectPaths


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    lab = commands.add_parser("lab", help="list and inspect labs").add_subparsers(
        dest="lab_command", metavar="ACTION", parser_class=parser_class, required=True)
    lab.add_parser("list", help="list the labs")
    show = lab.add_parser("show", help="show a lab's steps, services and rubric")
    show.add_argument("lab")
    new = lab.add_parser("new", help="scaffold a lab: lab.yaml, rubric, a passing reference and a broken variant")
    new.add_argument("id", help="the new lab's id: lowercase letters, digits, _ . - (e.g. my-first-lab)")
    new.add_argument("--dir", type=Path, help="folder to create the lab in (default: labs/ of the grader's home)")
    new.add_argument("--from", dest="template", default="basic", help="scaffold template (default: basic)")
    new.add_argument("--title", help="the lab's title (default: made from the id)")
    check_cli.add_lab_commands(lab)

    rubric = commands.add_parser("rubric", help="validate rubrics").add_subparsers(
        dest="rubric_command", metavar="ACTION", parser_class=parser_class, required=True)
    validate = rubric.add_parser("validate", help="validate a rubric or lab file (or a lab folder)")
    validate.add_argument("path", type=Path)
    rubric_test = rubric.add_parser(
        "test", help="grade a lab's reference (full marks expected) and every variant (declared losses expected)")
    rubric_test.add_argument("lab", help="lab id or folder")
    add_engine_options(rubric_test)

    checks = commands.add_parser("checks", help="list the check types")
    checks.set_defaults(command="checks")

    schema = commands.add_parser("schema", help="JSON Schemas of lab.yaml, rubrics, variant.yaml and capstone.yaml")
    schema.add_argument("kind", nargs="?", default="all", help="lab, rubric, variant, manifest or all (default)")
    schema.add_argument("--out", type=Path, help="write KIND.schema.json files to this folder (default: print one)")



def cmd_lab(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs.loading import list_lab_ids, load_lab, load_variants

    out = Console()
    if args.lab_command in check_cli.LAB_ACTIONS:
        return check_cli.LAB_ACTIONS[args.lab_command](args, paths, err)
    if args.lab_command == "new":
        return _lab_new(args, paths, err)
    if args.lab_command == "list":
        from grader.labs.loading import lab_origins

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
    from grader.labs.loading import LAB_FILE, load_lab, load_rubric

    if args.rubric_command == "test":
        return _rubric_test(args, paths, err)

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


def _rubric_test(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from rich.markup import escape

    from grader.run.rubric_test import CaseResult, test_rubric
    from grader.sandbox import make_engine

    def show(case: CaseResult) -> None:
        mark = "[green]✔[/green]" if case.ok else "[red]✘[/red]"
        err.print(f"{mark} {escape(case.name)}: {case.score:g}/{case.max_score:g}")
        for problem in case.problems:
            err.print(f"    [red]{escape(problem)}[/red]")

    result = test_rubric(args.lab, paths, make_engine(args.backend, paths, runtime=args.runtime), show)
    if result.untested:
        err.print(f"[yellow]untested checks[/yellow] (no variant makes them fail): {', '.join(result.untested)}")
    failed = [case.name for case in result.cases if not case.ok]
    verdict = f"[red]{len(failed)} of {len(result.cases)} failed[/red]" if failed else "[green]all as declared[/green]"
    Console().print(f"rubric test of {result.lab_id}: {verdict}")
    return EXIT_NOT_PASSED if failed else EXIT_PASSED


def _lab_new(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.labs.loading import list_lab_ids
    from grader.labs.scaffold import check_new_lab_id, create_lab

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
    from grader.labs.schemas import SCHEMA_FILES, schema_text, write_schemas

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


COMMANDS = {"lab": cmd_lab, "rubric": cmd_rubric, "checks": cmd_checks, "schema": cmd_schema}
