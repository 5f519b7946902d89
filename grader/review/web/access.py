"""Who may use the workspace and how requests are protected.

- On a loopback address a reviewer only gives a name; any other address needs the token set when the
  server started (``ServeSettings.token``), and the server refuses to start without one.
- Every state-changing request is a POST carrying the session's CSRF token.
- Every response carries a strict Content-Security-Policy: scripts and styles only from our own static
  files, nothing inline, no frames, forms only to this server.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, request, session

from grader.errors import BadInputError

MIN_TOKEN_LENGTH = 16
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CSRF_FIELD = "csrf_token"


class ServeRefused(BadInputError):
    """The workspace cannot start as asked (e.g. on a public address without a token)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeSettings:
    """How the workspace runs: the results store, the address and, off loopback, the reviewers' token."""

    db_path: Path
    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise ServeRefused(f"the token is too short: use at least {MIN_TOKEN_LENGTH} random characters")
        if not is_loopback(self.host) and self.token is None:
            raise ServeRefused(
                f"{self.host} is not a loopback address: anyone who reaches it could change grades. Give a "
                "token with --token-file FILE or GRADER_SERVE_TOKEN (reviewers enter it with their name), "
                "or serve on 127.0.0.1"
            )

    @property
    def needs_token(self) -> bool:
        return self.token is not None

    @property
    def trusted_hosts(self) -> list[str] | None:
        """Host headers accepted on loopback (a page on another site cannot rebind its name to us)."""
        if not is_loopback(self.host):
            return None
        return ["localhost", "127.0.0.1", "[::1]", "::1"]


def read_token(path: Path) -> str:
    """The token in a file (its first line, stripped), or a clear error."""
    try:
        token = path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size else ""
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise ServeRefused(f"cannot read the token from {path}: {exc}") from exc
    if not token:
        raise ServeRefused(f"the token file {path} is empty")
    return token


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def csrf_token() -> str:
    """The session's CSRF token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def require_csrf() -> None:
    """Refuse a POST whose form does not carry the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not token_matches(given, expected):
        abort(400, description="this form is out of date or did not come from this workspace: reload the page "
                               "and submit it again")


def current_reviewer() -> str | None:
    name = session.get("reviewer")
    return name if isinstance(name, str) else None


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
