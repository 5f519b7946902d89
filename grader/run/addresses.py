"""Addresses real code hard-codes, answered by the run's services: more names, more ports, and loopback ports
in the candidate's containers relayed to a service (``grader/probe/forward.py``).

Capstones written for a laptop or a compose file look for their tracking server at ``127.0.0.1:5000``,
``localhost:5001`` or ``mlflow-server:5000``; a lab declares which of those its services answer
(``aliases``, ``extra_ports``, ``loopback_ports``), so such code is graded on what it does, not on where it
looked.
"""

from __future__ import annotations

import shlex

from grader import probe
from grader.models import Lab, ServiceSpec
from grader.sandbox import Mount

FORWARDER_PATH = "/opt/grader-forward/forward.py"
FORWARDER_MOUNT = Mount(probe.PROBE_DIR / "forward.py", FORWARDER_PATH)
# The base image's interpreter, not the candidate's: the relay must work whatever environment the step has.
SYSTEM_PYTHON = "/usr/bin/python3"


def loopback_routes(lab: Lab, own_port: int | None = None) -> list[str]:
    """``LOCAL=SERVICE:PORT`` routes for a candidate container: every service's loopback ports but the
    container's own port (a candidate service listening there keeps it)."""
    routes: dict[int, str] = {}
    for service in lab.services:
        if not isinstance(service.port, int):
            continue
        for local in service.loopback_ports:
            if local != own_port:
                routes.setdefault(local, f"{local}={service.id}:{service.port}")
    return list(routes.values())


def extra_port_routes(service: ServiceSpec) -> list[str]:
    """Routes that make a service answer on its extra ports (bound on every address of its container)."""
    if not isinstance(service.port, int):
        return []
    return [f"{extra}=127.0.0.1:{service.port}" for extra in service.extra_ports if extra != service.port]


def with_relays(command: str, routes: list[str], *, bind_all: bool = False) -> str:
    """``command``, started once the relays listen (the forwarder returns when its ports are bound)."""
    if not routes:
        return command
    bind = ["--bind", "0.0.0.0"] if bind_all else []
    return f"{shlex.join([SYSTEM_PYTHON, FORWARDER_PATH, *routes, *bind])} ; {command}"
