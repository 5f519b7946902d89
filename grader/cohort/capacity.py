"""How many submissions one machine grades at once by default: what its cores and memory allow, each
grading counted with every container it runs at the same time (the candidate's step and its services, each
under the lab's limits)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.labs.loading import LoadedLab
from grader.models.limits import parse_memory

# A grading keeps about one core busy (it waits on containers the rest of the time); memory limits are
# ceilings, not what a container uses, so a machine may promise more than it has, but not much more.
MEMORY_OVERCOMMIT = 1.5
MAX_DEFAULT_WORKERS = 8


def grading_memory(lab: LoadedLab) -> int:
    """Bytes one grading may hold at once: the step container plus every service, under their limits."""
    limits = lab.lab.limits
    services = sum(parse_memory(limits.merged(service.limits).memory) for service in lab.lab.services)
    return parse_memory(limits.memory) + services


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable in bytes, or None where the system does not say."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_workers(lab: LoadedLab, cores: int | None = None, memory: int | None = None) -> int:
    """Concurrent gradings for this lab on this machine: one per core, fewer when memory is short, at least 1."""
    cores = cores if cores is not None else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                             else os.cpu_count() or 1)
    memory = memory if memory is not None else available_memory()
    by_cores = max(1, int(cores // max(lab.lab.limits.cpus, 1.0)))
    if memory is None:
        return min(by_cores, MAX_DEFAULT_WORKERS)
    by_memory = int(memory * MEMORY_OVERCOMMIT // max(grading_memory(lab), 1))
    return max(1, min(by_cores, by_memory, MAX_DEFAULT_WORKERS))
