"""Where the dependency step looks for packages: the host pip's index settings that make sense in a container
(its configuration, read with ``pip config list``), given to uv in the step's container as environment variables.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Where the host's CA bundle is mounted in the dependency container.
CA_MOUNT = "/etc/grader-ca/ca-certificates.crt"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class IndexSettings:
    """Where the dependency step's resolver looks: the host's index settings that make sense in a container."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: Path | None = None

    def environment(self) -> dict[str, str]:
        """Variables for uv (and for pip, which a package's build may call) in the dependency container.

        uv reads the CA bundle from ``SSL_CERT_FILE`` (its built-in roots do not know a proxy's certificate)."""
        env = {"PIP_CERT": CA_MOUNT, "SSL_CERT_FILE": CA_MOUNT} if self.cert else {}
        if self.index_url:
            env["PIP_INDEX_URL"] = env["UV_DEFAULT_INDEX"] = self.index_url
        if self.extra_index_urls:
            env["PIP_EXTRA_INDEX_URL"] = env["UV_INDEX"] = " ".join(self.extra_index_urls)
        if self.trusted_hosts:
            env["PIP_TRUSTED_HOST"] = env["UV_INSECURE_HOST"] = " ".join(self.trusted_hosts)
        return env


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
