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
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console

from grader import __version__
from grader.cli import batch, check, engine, grade, labs, results, serve, worker
from grader.cli.console import EXIT_BAD_INPUT, EXIT_INFRASTRUCTURE, EXIT_INTERRUPTED, terminal_safe
from grader.errors import BadInputError, GraderError
from grader.paths import ProjectPaths, project_paths


class _UsageError(BadInputError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message} (see --help)")


COMMAND_GROUPS = (grade, check, labs, engine, results, batch, worker, serve)
COMMANDS: dict[str, Callable[[argparse.Namespace, ProjectPaths, Console], int]] = {
    name: command for group in COMMAND_GROUPS for name, command in group.COMMANDS.items()
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="grader", description="Auto-grade MLOps capstone labs in sandboxes.")
    parser.add_argument("--version", action="version", version=f"capstone-grader {__version__}")
    parser.add_argument("--home", help="project folder with labs/, rubrics/, sandboxes/ (default: this checkout)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for group in COMMAND_GROUPS:
        group.add_commands(commands, _Parser)
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
        shown = str(exc)[:MESSAGE_LIMIT]
        err.print(f"[red]internal error:[/red] {type(exc).__name__}: {terminal_safe(shown)}\nDetails: {log}")
        return EXIT_INFRASTRUCTURE


MESSAGE_LIMIT = 2000  # of an error on the terminal; the rest is in the crash file
CRASH_DETAILS_LIMIT = 256 * 1024  # a traceback can carry a submission's text: bounded


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _write_crash_log(exc: BaseException) -> Path:
    """One file per crash (never a log every run appends to, which a submission that triggers crashes could
    fill): ``GRADER_CRASH_DIR``, else ``crashes/`` in the user's cache; named by time and process."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "capstone-grader" / "crashes"
    folder = Path(os.environ.get("GRADER_CRASH_DIR", default))
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"crash-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{os.getpid()}.log"
    details = "".join(traceback.format_exception(exc))
    if len(details) > CRASH_DETAILS_LIMIT:
        half = CRASH_DETAILS_LIMIT // 2
        details = f"{details[:half]}\n[... {len(details) - 2 * half} characters cut ...]\n{details[-half:]}"
    log.write_text(f"capstone-grader {__version__} python {platform.python_version()} {platform.platform()}\n"
                   f"{details}", encoding="utf-8", errors="backslashreplace")
    return log
