"""Sandbox resource limits: the defaults, a lab's overrides, and sizes such as ``512m``."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

IDENTIFIER = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
# Checks of this type are items for a human reviewer: listed in every report, never in the automatic score.
MANUAL_CHECK_TYPE = "manual"
_MEMORY = re.compile(r"^(\d+)([kmg]?)$", re.IGNORECASE)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_memory(value: str | int) -> int:
    """Turn ``512m``/``1g``/bytes into bytes."""
    if isinstance(value, int):
        return value
    match = _MEMORY.match(value.strip())
    if not match:
        raise ValueError(f"invalid size {value!r}: use bytes or a number with k, m or g (e.g. 512m)")
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


class Limits(StrictModel):
    """Resource limits for one sandboxed container. Safe defaults; a lab may raise or lower them."""

    memory: str = "1g"
    cpus: float = Field(1.0, gt=0, le=64)
    pids: int = Field(256, ge=16, le=65536)
    timeout: float = Field(300, gt=0, le=3600, description="wall-time limit in seconds")
    tmpfs: str = "256m"
    output: str = Field("256k", description="stdout and stderr kept per stream; the rest is cut with a marker")
    nofile: int = Field(1024, ge=64, le=1048576)
    fsize: str = Field("512m", description="largest file a process may write")

    @field_validator("memory", "tmpfs", "output", "fsize")
    @classmethod
    def _valid_size(cls, value: str) -> str:
        parse_memory(value)
        return value

    def merged(self, overrides: LimitOverrides | None) -> Limits:
        if overrides is None:
            return self
        return self.model_copy(update=overrides.model_dump(exclude_none=True))


class LimitOverrides(StrictModel):
    memory: str | None = None
    cpus: float | None = Field(None, gt=0, le=64)
    pids: int | None = Field(None, ge=16, le=65536)
    timeout: float | None = Field(None, gt=0, le=3600)
    tmpfs: str | None = None
    output: str | None = None
    nofile: int | None = None
    fsize: str | None = None

    @field_validator("memory", "tmpfs", "output", "fsize")
    @classmethod
    def _valid_size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_memory(value)
        return value
