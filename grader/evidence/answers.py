"""The probe's answers as typed values: one HTTP exchange, a batch of them, a load run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpAnswer:
    """One HTTP exchange as the probe saw it: a status, or the error that kept it from getting one."""

    status: int | None
    body: str = ""
    error: str | None = None
    latency_ms: float = 0.0
    content_type: str = ""
    truncated: bool = False  # longer than the probe reads: never a correct answer

    @classmethod
    def from_probe(cls, raw: dict[str, Any] | None) -> HttpAnswer:
        """The probe's JSON for one exchange (missing: no answer at all)."""
        if not raw:
            return cls(status=None)
        status = raw.get("status")
        return cls(status=status if isinstance(status, int) else None, body=str(raw.get("body") or ""),
                   error=raw.get("error"), latency_ms=float(raw.get("latency_ms") or 0),
                   content_type=str(raw.get("content_type") or ""), truncated=bool(raw.get("truncated")))

    @property
    def ok(self) -> bool:
        """Whether the server answered 2xx with a whole body (a redirect or a cut answer is a wrong answer)."""
        return self.status is not None and 200 <= self.status < 300 and not self.truncated

    @property
    def text(self) -> str:
        """The body, or the error when there was no answer."""
        return self.body or (self.error or "")

    def describe_status(self) -> str:
        """The status, or what kept the probe from getting one."""
        if self.status is None:
            return self.error or "nothing"
        return f"{self.status} with a body too large to read whole" if self.truncated else str(self.status)


NO_ANSWER = HttpAnswer(status=None)


def batch(raw: dict[str, Any] | None) -> tuple[HttpAnswer, ...]:
    """The answers to a batch the probe sent (``do: predict`` or ``do: raw``), in order."""
    return tuple(HttpAnswer.from_probe(r) for r in (raw or {}).get("responses", []))


@dataclass(frozen=True)
class LoadRun:
    """Requests sent with several in flight: each one's answer (without bodies) and the wall time."""

    answers: tuple[HttpAnswer, ...]
    wall_s: float | None

    @classmethod
    def from_probe(cls, raw: dict[str, Any] | None) -> LoadRun:
        """The probe's JSON for a ``do: load`` action."""
        raw = raw or {}
        return cls(answers=tuple(HttpAnswer.from_probe(r) for r in raw.get("results", [])), wall_s=raw.get("wall_s"))
