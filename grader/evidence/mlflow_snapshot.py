"""What the run's MLflow server holds, as observed by the probe, and questions asked of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Timestamps of the MLflow server and the grader's clock may differ by a little: what is this close counts.
CLOCK_SLACK_MS = 5000

@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    status: str
    start_time_ms: int
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Run:
        info, data = raw.get("info", {}), raw.get("data", {})
        return cls(
            run_id=info.get("run_id") or info.get("run_uuid", ""),
            experiment_id=str(info.get("experiment_id", "")),
            status=info.get("status", ""),
            start_time_ms=int(info.get("start_time") or 0),
            params={p["key"]: p.get("value", "") for p in data.get("params", [])},
            # runs/search returns the latest value of each metric
            metrics={m["key"]: float(m["value"]) for m in data.get("metrics", []) if "value" in m},
            tags={t["key"]: str(t.get("value", "")) for t in data.get("tags", []) if "key" in t},
        )


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str
    source: str
    stage: str
    created_ms: int

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ModelVersion:
        return cls(name=raw.get("name", ""), version=str(raw.get("version", "")), run_id=raw.get("run_id", ""),
                   source=raw.get("source", ""), stage=raw.get("current_stage", "None"),
                   created_ms=int(raw.get("creation_timestamp") or 0))


@dataclass(frozen=True)
class MlflowSnapshot:
    """Runs, registered versions and aliases at the moment the probe looked."""

    runs: list[Run] = field(default_factory=list)
    versions: list[ModelVersion] = field(default_factory=list)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)  # model → alias → version
    experiments: dict[str, str] = field(default_factory=dict)  # experiment id → name
    error: str | None = None

    @classmethod
    def from_probe(cls, raw: dict[str, Any]) -> MlflowSnapshot:
        if "error" in raw:
            return cls(error=raw["error"])
        aliases = {
            model["name"]: {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
            for model in raw.get("registered_models", [])
        }
        live = [r for r in raw.get("runs", []) if r.get("info", {}).get("lifecycle_stage", "active") != "deleted"]
        experiments = {str(e.get("experiment_id", "")): str(e.get("name", "")) for e in raw.get("experiments", [])}
        return cls(runs=[Run.from_api(r) for r in live],
                   versions=[ModelVersion.from_api(v) for v in raw.get("versions", [])], aliases=aliases,
                   experiments=experiments)

    def runs_since(self, started_ms: int) -> list[Run]:
        """Runs that started during this grading run (a clock slack of 5 s for container clocks)."""
        return [r for r in self.runs if r.start_time_ms >= started_ms - CLOCK_SLACK_MS]

    def finished_runs_since(self, started_ms: int) -> list[Run]:
        return [r for r in self.runs_since(started_ms) if r.status == "FINISHED"]

    def run(self, run_id: str) -> Run | None:
        return next((r for r in self.runs if r.run_id == run_id), None)

    def versions_of(self, name: str, since_ms: int = 0) -> list[ModelVersion]:
        found = [v for v in self.versions if v.name == name and v.created_ms >= since_ms - CLOCK_SLACK_MS]
        return sorted(found, key=lambda v: int(v.version) if v.version.isdigit() else 0)

    def served_version(self, name: str, alias: str | None, stage: str | None, since_ms: int) -> ModelVersion | None:
        """The version grading should evaluate: the alias's (or stage's) target, else the newest of this run."""
        versions = self.versions_of(name, since_ms)
        target = self.aliases.get(name, {}).get(alias or "") if alias else None
        if target:
            match = next((v for v in versions if v.version == target), None)
            if match:
                return match
        if stage:
            staged = [v for v in versions if v.stage.lower() == stage.lower()]
            if staged:
                return staged[-1]
        return versions[-1] if versions else None
