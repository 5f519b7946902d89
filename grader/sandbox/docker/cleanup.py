"""Removing what the grader labelled: one run's objects at teardown, or what a killed grader left."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

import docker
import docker.errors

from grader.sandbox.docker.health import ENGINE_ERRORS, engine_failure
from grader.sandbox.docker.labels import LABEL, LABEL_RUN, owner_is_gone


def cleanup_leftovers(
    client: docker.DockerClient, *, run_id: str | None = None, only_dead_owners: bool = False
) -> list[str]:
    """Remove containers, networks and volumes the grader labelled: all, one run's, or those of runs whose
    owning process (on this host) is gone. Tries everything, then raises the last failure, if any."""
    label = f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL}=1"
    removed: list[str] = []
    failure: Exception | None = None
    for kind in ("container", "image", "network", "volume"):  # containers first: they hold the others
        try:
            objects = _list_labelled(client, kind, label)
        except ENGINE_ERRORS as exc:
            failure = exc
            continue
        for obj in objects:
            labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
            if only_dead_owners and not owner_is_gone(labels):
                continue
            try:
                _remove(kind, obj)
            except docker.errors.NotFound:
                continue
            except ENGINE_ERRORS as exc:
                failure = exc
                continue
            removed.append(f"{kind} {getattr(obj, 'name', None) or obj.short_id} (run {labels.get(LABEL_RUN, '?')})")
    if failure is not None:
        raise engine_failure(f"teardown could not remove everything labelled {label}", failure) from failure
    return removed


def _list_labelled(client: docker.DockerClient, kind: str, label: str) -> list[Any]:
    filters = {"label": label}
    if kind == "container":
        return list(client.containers.list(all=True, filters=filters, ignore_removed=True))
    if kind == "network":
        return list(client.networks.list(filters=filters))
    if kind == "image":  # only images a run built from a submission carry run labels
        return list(client.images.list(filters=filters))
    return list(client.volumes.list(filters=filters))


def _remove(kind: str, obj: Any, attempts: int = 5) -> None:
    """Remove one object, retrying briefly on 409 (the engine still releasing an endpoint or a mount).

    A network still holding endpoints (a container the grader did not label was connected to it, or the
    engine kept a stale endpoint across a restart) has them force-disconnected first.
    """
    for attempt in range(attempts):
        try:
            if kind == "container":
                obj.remove(force=True, v=True)
            elif kind == "image":
                obj.client.images.remove(obj.id, force=True)
            elif kind == "volume":
                obj.remove(force=True)
            else:
                obj.remove()
            return
        except docker.errors.APIError as exc:
            if attempt == attempts - 1:
                raise
            if kind == "network" and "active endpoints" in str(exc):
                _disconnect_all(obj)
            elif exc.status_code != 409:
                raise
            time.sleep(0.2 * (attempt + 1))


def _disconnect_all(network: Any) -> None:
    network.reload()
    for endpoint in (network.attrs.get("Containers") or {}).values():
        with suppress(docker.errors.NotFound):
            network.disconnect(endpoint.get("Name", ""), force=True)
