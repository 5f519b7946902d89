"""Which OCI runtime a run's containers get: the operator's choice, the lab's policy, what the engine offers.

gVisor's ``runsc`` intercepts every system call in a user-space kernel, so a kernel exploit in candidate
code meets gVisor, not the host kernel. It is optional: a lab may prefer it (used when offered) or require
it (refused without it), and the operator may ask for it (``--runtime`` / ``GRADER_RUNTIME``).
"""

from __future__ import annotations

from collections.abc import Collection

from grader.errors import BadInputError, RuntimeUnavailableError
from grader.models import SandboxPolicy

GVISOR = "runsc"


def choose_runtime(requested: str | None, policy: SandboxPolicy, offered: Collection[str], default: str) -> str:
    """The runtime to use. ``requested`` is the operator's; a lab's requirement cannot be overridden.

    Raises BadInputError when the operator's request contradicts a lab's requirement, and
    RuntimeUnavailableError when a runtime that is required or explicitly requested is not offered. A
    runtime the lab only prefers falls back to the engine's ``default``.
    """
    if policy.require and requested and requested != policy.runtime:
        raise BadInputError(
            f"this lab requires the {describe(policy.runtime)} runtime; the requested runtime {requested!r} "
            "(--runtime or GRADER_RUNTIME) contradicts it"
        )
    wanted = requested or policy.runtime
    if not wanted:
        return default
    if wanted in offered:
        return wanted
    if requested or policy.require:
        who = "this lab requires" if policy.require else "--runtime (or GRADER_RUNTIME) asks for"
        raise RuntimeUnavailableError(
            f"refusing to grade: {who} the {describe(wanted)} runtime, which this Docker engine does not offer "
            f"(it offers: {', '.join(sorted(offered)) or 'none'}). Install it and register it with the engine "
            f"(dockerd's \"runtimes\" setting), or grade on a machine that has it"
        )
    return default


def describe(runtime: str | None) -> str:
    return f"gVisor ({GVISOR})" if runtime == GVISOR else repr(runtime)
