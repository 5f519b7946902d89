"""What a request works with: the settings, and its own review desk (a store's connection belongs to one
thread, and the server answers each request in a thread of its own)."""

from __future__ import annotations

from flask import current_app, g

from grader.results.store import ResultStore
from grader.review.desk import ReviewDesk
from grader.review.store import ReviewStore
from grader.review.web.access import ServeSettings


def settings() -> ServeSettings:
    found: ServeSettings = current_app.config["REVIEW_SETTINGS"]
    return found


def desk() -> ReviewDesk:
    """The review desk of this request, opened on first use and closed when the request ends."""
    if "desk" not in g:
        db_path = settings().db_path
        results = ResultStore(db_path)
        try:
            g.desk = ReviewDesk(results, ReviewStore(db_path))
        except BaseException:
            results.close()
            raise
    found: ReviewDesk = g.desk
    return found


def close_stores(_: BaseException | None) -> None:
    found = g.pop("desk", None)
    if found is not None:
        found.results.close()
        found.reviews.close()
