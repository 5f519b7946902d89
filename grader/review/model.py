"""What a reviewer did to a graded run: each change kept in order, the current review derived from them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """The kinds of entries in a run's audit log."""

    score = "score"  # points (and a comment) for a manual item
    override = "override"  # a check's points changed, with a reason
    release = "release"  # the grade is final and shown to the candidate


@dataclass(frozen=True)
class ReviewChange:
    """One entry of the audit log: who did what to which check, when, from which points to which, and why."""

    run_id: str
    action: Action
    reviewer: str
    at: str  # ISO 8601, UTC
    check_id: str = ""  # empty for a release
    old_points: float | None = None  # what counted before this change (None: nothing yet, for a manual item)
    new_points: float | None = None
    text: str = ""  # the comment of a manual score, the reason of an override

    def as_json(self) -> dict[str, object]:
        """This entry as a JSON object (the audit log's export format)."""
        return {"run_id": self.run_id, "action": self.action.value, "check": self.check_id or None,
                "reviewer": self.reviewer, "at": self.at, "old_points": self.old_points,
                "new_points": self.new_points, "text": self.text}


@dataclass(frozen=True)
class Mark:
    """The points a reviewer set on one check, and the comment or reason given with them."""

    points: float
    text: str
    action: Action
    reviewer: str
    at: str


@dataclass(frozen=True)
class Review:
    """The review of one run: its audit log, oldest first, and what follows from it."""

    run_id: str
    changes: tuple[ReviewChange, ...] = ()

    @property
    def marks(self) -> dict[str, Mark]:
        """check id → the latest points a reviewer set on it."""
        latest: dict[str, Mark] = {}
        for change in self.changes:
            if change.action is not Action.release and change.new_points is not None:
                latest[change.check_id] = Mark(change.new_points, change.text, change.action, change.reviewer,
                                               change.at)
        return latest

    @property
    def release(self) -> ReviewChange | None:
        """The release entry, once the grade is final."""
        return next((c for c in self.changes if c.action is Action.release), None)

    @property
    def released(self) -> bool:
        return self.release is not None

    @property
    def status(self) -> str:
        """``released``, ``in review`` (some change, not released) or ``not reviewed``."""
        if self.released:
            return "released"
        return "in review" if self.changes else "not reviewed"
