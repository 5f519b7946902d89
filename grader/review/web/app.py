"""The Flask application of ``grader serve``: settings, template filters, per-request stores, hooks."""

from __future__ import annotations

import json
import secrets
from typing import Any

from flask import Flask, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, SecurityError

from grader.results.report.html import clean_tree
from grader.results.report.text import clean_text, format_percent, format_points, tail
from grader.review.web import access, context
from grader.review.web.pages import pages

LOG_TAIL_CHARS = 6000  # of a step's output or a service's log shown on a page
# Pages that need no reviewer: signing in, and the files every page loads.
OPEN_ENDPOINTS = {"pages.login", "pages.favicon", "static"}


def create_app(settings: access.ServeSettings) -> Flask:
    """The workspace over ``settings.db_path``. Sessions are signed with a key made at start: restarting the
    server signs every reviewer out."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="grader_review",
        MAX_CONTENT_LENGTH=64 * 1024,
        TRUSTED_HOSTS=settings.trusted_hosts,
        REVIEW_SETTINGS=settings,
    )
    app.jinja_env.filters.update(points=format_points, percent=format_percent, clean=clean_text,
                                 log_tail=_log_tail, evidence=_evidence)
    app.jinja_env.globals.update(csrf_token=access.csrf_token, reviewer=access.current_reviewer,
                                 csrf_field=access.CSRF_FIELD)
    app.register_blueprint(pages)
    app.before_request(_sign_in_and_csrf)
    app.after_request(access.add_security_headers)
    app.teardown_appcontext(context.close_stores)
    app.register_error_handler(HTTPException, _error_page)
    return app


def _sign_in_and_csrf() -> ResponseReturnValue | None:
    if request.routing_exception is not None:  # an unknown page or a foreign Host header: its own error
        return None
    if request.method == "POST":
        access.require_csrf()
    if request.endpoint in OPEN_ENDPOINTS or access.current_reviewer():
        return None
    return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))


def _error_page(error: HTTPException) -> ResponseReturnValue:
    if isinstance(error, SecurityError):  # refused before routing (a foreign Host header): no page to link from
        return f"{error.code} {error.name}: {error.description}\n", error.code or 500, {"Content-Type": "text/plain"}
    return render_template("error.html", code=error.code, name=error.name, description=error.description), \
        error.code or 500


def _log_tail(text: str | None) -> str:
    kept, cut = tail(clean_text(text or ""), LOG_TAIL_CHARS)
    return f"[... {cut} characters before ...]\n{kept}" if cut else kept


def _evidence(value: Any) -> str:
    return json.dumps(clean_tree(value), indent=2, sort_keys=True, ensure_ascii=False, default=str)
