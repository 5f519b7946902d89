"""The rubric: sections of checks with points, ``needs`` and visibility, and the pass mark."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from grader.models.limits import IDENTIFIER, MANUAL_CHECK_TYPE, StrictModel

# --- rubrics -----------------------------------------------------------------------------------


class Visibility(StrEnum):
    public = "public"
    hidden = "hidden"


class CheckSpec(BaseModel):
    """One rubric item. Keys other than the common ones are the check type's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=IDENTIFIER)
    title: str
    type: str
    points: float = Field(ge=0)
    needs: list[str] = Field(default_factory=list)
    visibility: Visibility = Visibility.public
    hint: str | None = None
    required: bool = Field(
        False, description="a pass needs this check to pass, whatever the score (e.g. training runs, the server "
        "answers); the report names each required check that did not",
    )

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Section(StrictModel):
    id: str = Field(pattern=IDENTIFIER)
    title: str
    checks: list[CheckSpec] = Field(min_length=1)


class Rubric(StrictModel):
    """Sections of checks. A submission passes when its score reaches ``pass_mark`` of the maximum."""

    id: str = Field(pattern=IDENTIFIER)
    version: str = "1"
    title: str
    pass_mark: float = Field(0.6, ge=0, le=1, description="fraction of max_score needed to pass")
    sections: list[Section] = Field(min_length=1)

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Duplicate ids and ``needs`` that do not name an earlier check, as (key path, message) pairs."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for section_index, section in enumerate(self.sections):
            for check_index, check in enumerate(section.checks):
                location: tuple[str | int, ...] = ("sections", section_index, "checks", check_index)
                if check.id in seen:
                    problems.append(((*location, "id"), f"check id {check.id!r} is used twice"))
                if check.required and check.type == MANUAL_CHECK_TYPE:
                    problems.append(((*location, "required"), f"check {check.id!r} is a manual item: a reviewer "
                                     "scores it after grading, so the automatic verdict cannot require it"))
                unknown = [n for n in check.needs if n not in seen]
                if unknown:
                    problems.append(((*location, "needs"),
                                     f"check {check.id!r} needs {unknown}: needs must name earlier checks"))
                seen.add(check.id)
        return problems

    @property
    def checks(self) -> list[CheckSpec]:
        return [c for s in self.sections for c in s.checks]

    @property
    def max_score(self) -> float:
        """The automatic maximum: manual items are scored by a reviewer, outside it."""
        return sum(c.points for c in self.checks if c.type != MANUAL_CHECK_TYPE)

    @property
    def review_points(self) -> float:
        """Points a reviewer may award on the manual items."""
        return sum(c.points for c in self.checks if c.type == MANUAL_CHECK_TYPE)

    def section_of(self, check_id: str) -> str:
        return next(s.id for s in self.sections if any(c.id == check_id for c in s.checks))
