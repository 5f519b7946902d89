"""What pip says, read on the host: why the dependency step failed (which requirement, pip's reason, or an
unreachable index) and where the host's pip looks for packages (its configuration, for the step's container).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import InfrastructureError
from grader.models import StepResult
from grader.run.dependencies.requirements import Requirement, canonicalize_name, shorten

# Where the host's CA bundle is mounted in the dependency container.
CA_MOUNT = "/etc/grader-ca/ca-certificates.crt"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class IndexSettings:
    """Where the dependency step's pip looks: the host's index settings that make sense in a container."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: Path | None = None

    def environment(self) -> dict[str, str]:
        env = {"PIP_CERT": CA_MOUNT, "SSL_CERT_FILE": CA_MOUNT} if self.cert else {}
        if self.index_url:
            env["PIP_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        if self.trusted_hosts:
            env["PIP_TRUSTED_HOST"] = " ".join(self.trusted_hosts)
        return env


@dataclass(frozen=True)
class PipFailure:
    """Which requirements pip failed on and why, read from its output."""

    requirements: list[str]
    reason: str
    index_unreachable: bool = False


# --- the host's package index configuration ----------------------------------------------------------------


def host_index_settings(pip_config: Callable[[], str] | None = None) -> IndexSettings:
    """The host pip's index, extra indexes, trusted hosts and CA bundle, as ``pip config list`` reports them."""
    return parse_pip_config((pip_config or _pip_config_list)(), os.environ)


def parse_pip_config(text: str, environ: dict[str, str] | os._Environ[str]) -> IndexSettings:
    """Settings from ``pip config list`` output. Only http(s) indexes are kept: a ``file://`` index exists on
    the host, not in the container. The CA bundle falls back to the usual environment variables and Debian's."""
    rank = {"global": 1, "wheel": 2, ":env:": 3}  # pip's precedence: environment over [wheel] over [global]
    values: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        match = re.match(r"^(?P<section>[^.=]+)\.(?P<key>[\w-]+)=(?P<value>.*)$", line.strip())
        if not match or match["section"] not in rank:
            continue
        priority = rank[match["section"]]
        if priority >= values.get(match["key"], (0, ""))[0]:
            values[match["key"]] = (priority, _unquote(match["value"]))

    def urls(key: str) -> tuple[str, ...]:
        return tuple(u for u in values.get(key, (0, ""))[1].split() if u.startswith(("http://", "https://")))

    candidates = [values.get("cert", (0, ""))[1], environ.get("PIP_CERT", ""), environ.get("SSL_CERT_FILE", ""),
                  environ.get("REQUESTS_CA_BUNDLE", ""), str(DEFAULT_CA_BUNDLE)]
    cert = next((Path(c).resolve() for c in candidates if c and Path(c).is_file()), None)
    index = urls("index-url")
    return IndexSettings(index_url=index[0] if index else None, extra_index_urls=urls("extra-index-url"),
                         trusted_hosts=tuple(values.get("trusted-host", (0, ""))[1].split()), cert=cert)


def _pip_config_list() -> str:
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              timeout=60, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""  # no pip beside the grader: pip's defaults (and the default CA bundle) it is
    return done.stdout


def _unquote(value: str) -> str:
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value.strip("'\"")
    return parsed if isinstance(parsed, str) else value


# --- reading pip's output ----------------------------------------------------------------------------------


_UNREACHABLE = re.compile(
    r"Retrying \(Retry\(total=\d+.*\)\) after connection broken by|Could not fetch URL .*: There was a problem"
    r"|SSLError\(|ProxyError\(|NewConnectionError\(|Temporary failure in name resolution", re.M)


def explain_pip_failure(log: str, requirements: Sequence[str]) -> PipFailure:
    """Which of ``requirements`` (the lines pip was given, in order) pip failed on, and pip's reason."""
    by_name = {canonicalize_name(Requirement(line).name): line for line in requirements}

    def named(pip_text: str) -> str:
        line = re.match(r"-r \S+ \(line (\d+)\)", pip_text)
        if line and 1 <= int(line[1]) <= len(requirements):
            return requirements[int(line[1]) - 1]
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", pip_text)
        if name and canonicalize_name(name[0]) in by_name:
            return by_name[canonicalize_name(name[0])]
        return f"{pip_text} (a dependency of the requirements)"

    conflict = re.search(r"^ERROR: Cannot install (.+?) because these package versions have conflicting", log, re.M)
    if conflict:
        failed = [named(part) for part in re.split(r", | and ", conflict[1]) if part]
        cause = re.search(r"The conflict is caused by:\n((?:[ \t]+\S.*\n?)+)", log)
        because = "; ".join(ln.strip() for ln in cause[1].splitlines()) if cause else "conflicting dependencies"
        return PipFailure(failed, f"{' and '.join(failed)} cannot be installed together: {because}")
    built = re.findall(r"^\s*ERROR: Failed building wheel for (\S+)", log, re.M)
    if built:
        failed = [named(name) for name in dict.fromkeys(built)]
        return PipFailure(failed, "; ".join(f"{req} failed to build: {_build_error(log, name)}"
                                            for req, name in zip(failed, dict.fromkeys(built), strict=True)))
    metadata = re.search(r"^error: metadata-generation-failed|\u00d7 (Getting requirements to build wheel|python setup"
                         r"\.py egg_info|Preparing metadata \(pyproject\.toml\)) did not run successfully", log, re.M)
    collecting = re.findall(r"^Collecting (\S+)", log[: metadata.start()] if metadata else "", re.M)
    if metadata and collecting:
        failed = [named(collecting[-1])]
        return PipFailure(failed, f"{failed[0]} failed to build (its package metadata could not be generated): "
                                  f"{_build_error(log, None)}")
    python = re.findall(r"^ERROR: Package '(\S+)' requires a different Python: (.+)$", log, re.M)
    if python:
        failed = [named(name) for name, _ in python]
        return PipFailure(failed, "; ".join(f"{req} requires a different Python ({why.strip()})"
                                            for req, (_, why) in zip(failed, python, strict=True)))
    missing = re.findall(r"^ERROR: Could not find a version that satisfies the requirement (\S+) "
                         r"\(from versions: (.*)\)$", log, re.M)
    if missing:
        failed = [named(name) for name, _ in missing]
        unreachable = any(v.strip() == "none" for _, v in missing) and bool(_UNREACHABLE.search(log))
        return PipFailure(failed, "; ".join(f"{req}: no version on the package index matches "
                                            f"(available: {_versions(versions)})"
                                            for req, (_, versions) in zip(failed, missing, strict=True)), unreachable)
    return PipFailure([], f"pip failed: {last_error(log)}", bool(_UNREACHABLE.search(log)))


def step_failure(result: StepResult, log: str, requirements: Sequence[str]) -> PipFailure:
    if result.timed_out or result.oom_killed:
        doing = re.findall(r"^(?:Collecting|\s*Building wheel for) (\S+)", log, re.M)
        where = f" while at {doing[-1]}" if doing else ""
        return PipFailure([], f"the dependency step {result.failure_reason}{where}")
    failure = explain_pip_failure(log, requirements)
    if failure.index_unreachable:
        raise InfrastructureError(f"the dependency step could not reach the package index: {last_error(log)}")
    return failure


def _build_error(log: str, package: str | None) -> str:
    """The telling line of a failed build's output block (the last one mentioning an error)."""
    end = log.find(f"Failed building wheel for {package}") if package else -1
    blocks = re.findall(r"╰─> \[\d+ lines of output\]\n(.*?)\[end of output\]", log[: end if end >= 0 else None],
                        re.S)
    if not blocks:
        return last_error(log)
    lines = [ln.strip() for ln in blocks[-1].splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return shorten((errors or lines or ["no output"])[-1], 300)


def last_error(log: str) -> str:
    errors = [ln.strip() for ln in log.splitlines() if ln.strip().startswith(("ERROR:", "error:"))]
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    return shorten((errors or lines or ["no output"])[-1], 300)


def _versions(listed: str) -> str:
    versions = [v.strip() for v in listed.split(",") if v.strip()]
    if len(versions) <= 6:
        return ", ".join(versions) or "none"
    return f"{', '.join(versions[:2])}, ..., {', '.join(versions[-3:])}"
