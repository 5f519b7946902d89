"""``grader serve``: the reviewers' workspace in the browser, over the results store."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from rich.console import Console

from grader.paths import ProjectPaths

DEFAULT_PORT = 8765
TOKEN_VARIABLE = "GRADER_SERVE_TOKEN"


def add_commands(commands: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this group's commands to the ``grader`` parser."""
    serve = commands.add_parser(
        "serve", help="the reviewers' workspace: cohort, reports, manual points, overrides, release",
        description="Serve the review workspace over the results store. On a loopback address (the default) a "
                    "reviewer signs in with a name; on any other address a token is required: give it with "
                    f"--token-file or {TOKEN_VARIABLE}, and reviewers enter it with their name.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any free)")
    serve.add_argument("--db", type=Path, help="results store (default: GRADER_DB, else the user's data folder)")
    serve.add_argument("--token-file", type=Path, help=f"file whose first line is the token (else {TOKEN_VARIABLE})")


def cmd_serve(args: argparse.Namespace, paths: ProjectPaths, err: Console) -> int:
    from werkzeug.serving import make_server

    from grader.review.web import create_app
    from grader.review.web.access import ServeRefused, ServeSettings, read_token

    token = read_token(args.token_file) if args.token_file else os.environ.get(TOKEN_VARIABLE) or None
    settings = ServeSettings(db_path=args.db or paths.results_db, host=args.host, port=args.port, token=token)
    # Bound here, not by werkzeug, which answers a port in use by printing and exiting the process.
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        listening = socket.create_server((settings.host, settings.port), family=family, backlog=128)
    except OSError as exc:
        raise ServeRefused(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc} "
                           "(choose another --port, or 0 for any free one)") from exc
    with listening:
        server = make_server(settings.host, settings.port, create_app(settings), threaded=True,
                             fd=listening.fileno())
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    err.print(f"review workspace on http://{host}:{server.socket.getsockname()[1]}/ over {settings.db_path}"
              f"{' (token required)' if settings.needs_token else ''}; Ctrl-C stops it", highlight=False)
    try:
        server.serve_forever()  # returns on Ctrl-C or SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    err.print("review workspace stopped")
    return 0


COMMANDS = {"serve": cmd_serve}
