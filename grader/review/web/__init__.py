"""``grader serve``: the reviewers' workspace, a small server-rendered Flask application over the results store.

``create_app`` builds it from a :class:`~grader.review.web.access.ServeSettings`; ``access`` holds who may
use it (a name on loopback, a token elsewhere), the CSRF tokens and the security headers; ``pages`` the
routes. Templates and the one script file ship beside them; nothing is built and nothing is inline.
"""

from grader.review.web.app import create_app

__all__ = ["create_app"]
