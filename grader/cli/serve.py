"""``grader serve``: the reviewers' workspace in the browser, over the results store."""

from __future__ import annotations

import argparse
import os
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
    from grader.review.web.access import ServeSettings, read_token

    token = read_token(args.token_file) if args.token_file else os.environ.get(TOKEN_VARIABLE) or None
    settings = ServeSettings(db_path=args.db or paths.results_db, host=args.host, port=args.port, token=token)
    server = make_server(settings.host, settings.port, create_app(settings), threaded=True)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    err.print(f"review workspace on http://{host}:{server.server_port}/ over {settings.db_path}"
              f"{' (token required)' if settings.needs_token else ''}; Ctrl-C stops it", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err.print("review workspace stopped")
    finally:
        server.server_close()
    return 0


COMMANDS = {"serve": cmd_serve}
