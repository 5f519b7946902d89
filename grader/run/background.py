"""The run's helper threads: work that overlaps with the pipeline (early checks, evidence gathered ahead)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# Two helper threads are enough on the 2-core machines this targets.
HELPER_THREADS = 2


class BackgroundWork:
    """A small thread pool that remembers what it was given, so teardown knows whether work was still running."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=HELPER_THREADS, thread_name_prefix=name)
        self._futures: list[Future[Any]] = []

    def submit(self, work: Callable[..., Any], *args: Any) -> Future[Any]:
        """Start ``work(*args)`` on a helper thread."""
        future = self._pool.submit(work, *args)
        self._futures.append(future)
        return future

    def cancel_pending(self) -> bool:
        """Drop the work not started yet; True when some work is still running (it ends on its own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        return any(not future.done() for future in self._futures)

    def join(self) -> None:
        """Wait until the running work has ended."""
        self._pool.shutdown(wait=True)
