"""``grader images`` and ``grader cleanup``: the engine's images and leftovers."""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from grader.paths import ProjectPaths


def add_engine_options(parser: argparse.ArgumentParser, *, runtime: bool = True) -> None:
    """--backend and (for every command that runs sandboxes) --runtime."""
    parser.add_argument("--backend", default=os.environ.get("GRADER_BACKEND", "docker"),
                        help="sandbox backend (default: GRADER_BACKEND, else docker)")
    if not runtime:
        parser.set_defaults(runtime=None)
        return
    parser.add_argument("--runtime", default=os.environ.get("GRADER_RUNTIME") or None,
                        help="OCI runtime for every container, e.g. runsc (gVisor); refused (exit 3) when the engine "
                        "does not offer it (default: GRADER_RUNTIME, else the lab's sandbox.runtime or the engine's)")


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    images = commands.add_parser("images", help="build the sandbox images ahead of grading")
    images.add_argument("names", nargs="*", default=["runtime"], help="image definitions in sandboxes/")
    add_engine_options(images)

    cleanup = commands.add_parser("cleanup", help="remove containers, networks and volumes left by the grader")
    cleanup.add_argument("--run", help="only this run id")
    cleanup.add_argument("--dead-only", action="store_true", help="only runs whose grader process is gone")
    add_engine_options(cleanup, runtime=False)


def cmd_images(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.sandbox import make_engine

    engine = make_engine(args.backend, paths, runtime=args.runtime)
    for name in args.names:
        tag, digest = engine.prepare_image(name, lambda line: err.print(f"[dim]{line}[/dim]", markup=False))
        Console().print(f"{name}: {tag} ({digest})")
    return 0


def cmd_cleanup(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from grader.sandbox import make_engine

    engine = make_engine(args.backend, paths, runtime=args.runtime)
    removed = engine.cleanup(run_id=args.run, only_dead_owners=args.dead_only)
    for line in removed:
        Console().print(f"removed {line}")
    err.print(f"{len(removed)} object(s) removed")
    return 0


COMMANDS = {"images": cmd_images, "cleanup": cmd_cleanup}
