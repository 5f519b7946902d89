"""The grader's own witness of a candidate's pytest run: what really happened to each test.

Runs in the candidate's sandbox as ``python -c <this source> PYTEST_ARGS...`` (the grader passes the text,
so nothing of the submission can replace it). The process makes itself non-dumpable (the candidate's code,
same uid, can then not read its memory, environment or descriptors through /proc), forks, and in the child
runs ``pytest.main(args, plugins=[witness])``: the witness is registered before any conftest or plugin of
the submission is imported. It records, as each happens, every collected test (``pytest_itemcollected``,
before any ``pytest_collection_modifyitems``) and the raw outcome of each phase from the ``CallInfo``
(a ``tryfirst`` ``pytest_runtest_makereport`` that reads the exception before any report exists, so a hook
rewriting reports, ``pytest_report_teststatus``, a patched terminal reporter or a fake JUnit file change
nothing here). Records go through a pipe to the parent, each signed with a key drawn at start, in sequence;
the child's stdout and stderr are relayed to the parent's stderr, so the container's stdout is the parent's.
When the child ends, the parent prints one line ``GRADER-PYTEST-WITNESS {json}`` with the counts, the
child's real exit status, the hooks of the submission that can alter outcomes, tests collected but never
run, and how many records failed verification. It is the only such line: a second one on stdout (a process
of the candidate writing to the container's output) is a forgery, which the grader sees.

Standard library only in the parent; the child imports pytest (the candidate's environment's).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import threading
from typing import Any

WITNESS_MARKER = "GRADER-PYTEST-WITNESS "
# Hooks through which a plug-in or conftest can change what a run reports.
OUTCOME_HOOKS = ("pytest_runtest_makereport", "pytest_report_teststatus", "pytest_runtest_logreport",
                 "pytest_collection_modifyitems", "pytest_deselected", "pytest_runtest_protocol",
                 "pytest_runtest_call", "pytest_pyfunc_call", "pytest_sessionfinish", "pytest_terminal_summary",
                 "pytest_unconfigure")
MAX_LISTED = 20
MESSAGE_CHARS = 300


def _sign(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _non_dumpable() -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


# --- the child: pytest with the witness registered first ---------------------------------------------


def run_pytest(args: list[str], record_fd: int, key: bytes) -> int:
    import inspect

    import pytest

    sequence = [0]

    def record(kind: str, **values: Any) -> None:
        payload = json.dumps({"seq": sequence[0], "kind": kind, **values}, default=str)
        sequence[0] += 1
        os.write(record_fd, f"{_sign(key, payload)} {payload}\n".encode())

    def classify(item: Any, call: Any) -> tuple[str, str]:
        excinfo = call.excinfo
        pending = getattr(item, "_excinfo", None)  # unittest cases keep their failure here until makereport
        if excinfo is None and pending:
            excinfo = pending[0]
        if excinfo is None:
            return "passed", ""
        message = str(excinfo.value)[:MESSAGE_CHARS]
        if isinstance(excinfo.value, (pytest.skip.Exception, pytest.xfail.Exception)):
            return "skipped", message
        if call.when == "call" and item.get_closest_marker("xfail") is not None:
            return "skipped", message  # an expected failure: xfailed, never a pass
        return "failed", f"{excinfo.typename}: {message}"

    def hooks_of(config: Any, witness: Any) -> list[dict[str, Any]]:
        found = []
        root = os.getcwd()  # the submission's root, where the grader starts pytest
        for name in OUTCOME_HOOKS:
            caller = getattr(config.hook, name, None)
            for impl in caller.get_hookimpls() if caller is not None else []:
                function = impl.function
                module = getattr(function, "__module__", "") or ""
                if impl.plugin is witness or module.split(".")[0] in ("_pytest", "pytest", "pluggy"):
                    continue
                try:
                    path = inspect.getsourcefile(function) or module
                except TypeError:
                    path = module
                inside = path.startswith(root + os.sep)
                where = os.path.relpath(path, root) if inside else path
                line = getattr(getattr(function, "__code__", None), "co_firstlineno", 0)
                found.append({"hook": name, "where": f"{where}:{line}", "in_submission": inside,
                              "wrapper": bool(getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False))})
        return found[:50]

    class Witness:
        @pytest.hookimpl(tryfirst=True)
        def pytest_itemcollected(self, item: Any) -> None:
            record("collected", test=item.nodeid)

        @pytest.hookimpl(tryfirst=True)
        def pytest_collection_finish(self, session: Any) -> None:
            option = session.config.option
            explained = any(getattr(option, name, None) for name in ("keyword", "markexpr", "deselect", "maxfail",
                                                                        "exitfirst", "lf", "last_failed"))
            record("selected", count=len(session.items), by_options=explained,
                   hooks=hooks_of(session.config, self))

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
            outcome, message = classify(item, call)
            record("outcome", test=item.nodeid, when=call.when, outcome=outcome, message=message)

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(self, session: Any, exitstatus: Any) -> None:
            record("finished", exitstatus=int(exitstatus))

    try:
        return int(pytest.main(args, plugins=[Witness()]))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1


# --- the parent: verify, summarise, print ----------------------------------------------------------


class Ledger:
    """The verified records, in order; lines that fail verification are only counted."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.records: list[dict[str, Any]] = []
        self.rejected = 0

    def take(self, line: bytes) -> None:
        signature, _, payload = line.decode("utf-8", "replace").strip().partition(" ")
        try:
            value = json.loads(payload)
        except ValueError:
            self.rejected += 1
            return
        if not hmac.compare_digest(signature, _sign(self.key, payload)) or value.get("seq") != len(self.records):
            self.rejected += 1
            return
        self.records.append(value)


def summarise(ledger: Ledger, exit_code: int) -> dict[str, Any]:
    """What the witness saw: per-test outcomes (the worst phase wins), dropped tests, hooks, exit status."""
    collected: dict[str, None] = {}
    outcomes: dict[str, tuple[str, str, str]] = {}  # test -> (outcome, phase, message)
    selected: dict[str, Any] = {}
    finished: dict[str, Any] = {}
    for record in ledger.records:
        kind = record["kind"]
        if kind == "collected":
            collected[record["test"]] = None
        elif kind == "selected":
            selected = record
        elif kind == "finished":
            finished = record
        elif kind == "outcome":
            test, when, outcome = record["test"], record["when"], record["outcome"]
            current = outcomes.get(test)
            if outcome == "failed":
                verdict = "failed" if when == "call" else "error"
                if current is None or current[0] not in ("failed", "error"):
                    outcomes[test] = (verdict, when, record.get("message", ""))
            elif current is None:
                outcomes[test] = (outcome, when, record.get("message", ""))
            elif outcome == "skipped" and current[0] == "passed":
                outcomes[test] = ("skipped", when, record.get("message", ""))
    counts = {name: sum(1 for value in outcomes.values() if value[0] == name)
              for name in ("passed", "failed", "error", "skipped")}
    never_run = [test for test in collected if test not in outcomes]
    failures = [{"test": test, "kind": value[0], "message": value[2]}
                for test, value in outcomes.items() if value[0] in ("failed", "error")][:MAX_LISTED]
    return {"exit_code": exit_code, "collected": len(collected), "selected": selected.get("count"),
            "never_run": never_run[:MAX_LISTED], "never_run_count": len(never_run),
            "never_run_by_options": bool(selected.get("by_options")), "hooks": selected.get("hooks", []),
            "passed": counts["passed"], "failed": counts["failed"], "errors": counts["error"],
            "skipped": counts["skipped"], "failures": failures, "finished": bool(finished),
            "session_exitstatus": finished.get("exitstatus"), "rejected_records": ledger.rejected}


def _pump(fd: int, sink: Any) -> None:
    with os.fdopen(fd, "rb", buffering=0) as source:
        for line in iter(source.readline, b""):
            sink(line)


def main(args: list[str]) -> int:
    _non_dumpable()
    key = os.urandom(32)
    record_read, record_write = os.pipe()
    output_read, output_write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(record_read)
        os.close(output_read)
        os.dup2(output_write, 1)
        os.dup2(output_write, 2)
        os.close(output_write)
        code = 1
        try:
            code = run_pytest(args, record_write, key)
        finally:
            os._exit(code if 0 <= code < 256 else 1)
    os.close(record_write)
    os.close(output_write)
    ledger = Ledger(key)
    relay = threading.Thread(target=_pump, args=(output_read, sys.stderr.buffer.write), daemon=True)
    reader = threading.Thread(target=_pump, args=(record_read, ledger.take), daemon=True)
    relay.start()
    reader.start()
    _, status = os.waitpid(child, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    reader.join(10)
    relay.join(2)
    sys.stderr.flush()
    print(WITNESS_MARKER + json.dumps(summarise(ledger, exit_code)), flush=True)
    return exit_code if exit_code >= 0 else 128 - exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
