"""The labels on everything the Docker backend creates, and whose process a labelled object belongs to."""

from __future__ import annotations

import os
import socket
import time

LABEL = "capstone-grader"
LABEL_RUN = "capstone-grader.run"
LABEL_PID = "capstone-grader.pid"
LABEL_HOST = "capstone-grader.host"
LABEL_CREATED = "capstone-grader.created"


def run_labels(run_id: str) -> dict[str, str]:
    """The labels on every object a run creates: who made it, for which run, and when."""
    return {
        LABEL: "1",
        LABEL_RUN: run_id,
        LABEL_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_CREATED: str(int(time.time())),
    }


def owner_is_gone(labels: dict[str, str]) -> bool:
    """Whether the grader process that created an object has exited (only knowable on its own host)."""
    if labels.get(LABEL_HOST, socket.gethostname()) != socket.gethostname():
        return False
    try:
        os.kill(int(labels.get(LABEL_PID, "")), 0)
    except ValueError:
        return False  # no owner recorded: not ours to judge
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
