"""Why a candidate's command failed, in words the candidate can act on, read from its own output.

A step's exit code says only that it failed; the reason is in its last lines (an exception, an import
error, a refused connection). ``explain_failure`` recognises the causes real capstones hit in a sandbox
— a module not installed, a hard-coded server address nothing answers on, no internet, a data file that
is not in the repository, a model type MLflow refused to save, a library version that rejects an
argument — and says what to change; anything else is named by its last exception line. ``error_excerpt``
keeps the lines a reviewer would look at first (the last traceback), capped.

Only output of the candidate's own commands is read here: they never see the hidden data, so nothing
hidden can leak through a cause shown in the candidate's report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

EXCERPT_LINES = 15
EXCERPT_CHARS = 1500
_TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit|Interrupt)|\w*Warning)\b:?.*$",
                             re.MULTILINE)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    explain: Callable[[re.Match[str]], str]


def _missing_module(match: re.Match[str]) -> str:
    module = match.group(1).split(".")[0]
    return (f"the code imports '{module}', which is not installed in the sandbox: list it in your requirements "
            "file (e.g. requirements.txt) with the version you developed with")


def _missing_name(match: re.Match[str]) -> str:
    name, package = match.group(1), match.group(2).split(".")[0]
    return (f"'{package}' in the sandbox has no '{name}': its version differs from the one you developed with; "
            f"pin '{package}' to your version in your requirements file")


def _refused(match: re.Match[str]) -> str:
    host, port = match.group(1), match.group(2)
    return (f"nothing answers at {host}:{port} in the sandbox: read addresses from the environment the lab sets "
            f"(MLFLOW_TRACKING_URI for the MLflow tracking server) instead of hard-coding {host}:{port}")


def _unresolved(match: re.Match[str]) -> str:
    host = next(group for group in match.groups() if group)
    return (f"the code tried to reach '{host}', which does not resolve in the sandbox (it has no internet): "
            "commit the data the code needs, or use the addresses the lab provides")


def _no_file(match: re.Match[str]) -> str:
    return (f"the file '{match.group(1)}' does not exist when this command runs: commit it to the repository, "
            "or create it in an earlier step (e.g. a prepare or training command)")


def _read_only(match: re.Match[str]) -> str:
    return (f"the code writes to '{match.group(1)}', which is read-only in the sandbox: write under the "
            "repository's folder or /tmp")


_RULES = (
    _Rule(re.compile(r"No module named '([\w.]+)'"), _missing_module),
    _Rule(re.compile(r"cannot import name '(\w+)' from '([\w.]+)'"), _missing_name),
    _Rule(re.compile(r"untrusted types.*?skops|skops.*?untrusted types", re.DOTALL | re.IGNORECASE),
          lambda m: "MLflow refused to save the model: MLflow 3.x saves scikit-learn models with skops, which does "
          "not trust this model's types; pin the MLflow version you developed with, or pass "
          "serialization_format='cloudpickle' to mlflow.sklearn.log_model"),
    _Rule(re.compile(r"[Ff]ile(?:System)?Store.*maintenance mode|maintenance mode.*file", re.IGNORECASE),
          lambda m: "MLflow 3.x refuses the local file store (./mlruns): log to the tracking server in "
          "MLFLOW_TRACKING_URI, or pin the MLflow version you developed with"),
    _Rule(re.compile(r"Failed to resolve '([^']+)'|host='([^']+)'.*?(?:Name or service not known|Temporary failure "
                     r"in name resolution)", re.DOTALL), _unresolved),
    _Rule(re.compile(r"host='([^']+)', port=(\d+)\).*?(?:Connection refused|NewConnectionError|Max retries)",
                     re.DOTALL), _refused),
    _Rule(re.compile(r"[Cc]onnect(?:ion)? (?:to )?(?:https?://)?([\w.-]+):(\d+).*?(?:refused|failed)"), _refused),
    _Rule(re.compile(r"RESOURCE_DOES_NOT_EXIST: Registered Model with name=(\S+) not found"),
          lambda m: f"the registered model '{m.group(1)}' does not exist in the sandbox's MLflow registry: register "
          "it during training, or serve a model file that is committed to the repository"),
    _Rule(re.compile(r"(?:FileNotFoundError|No such file or directory): (?:\[Errno 2\] [^:]*: )?'([^']+)'"), _no_file),
    _Rule(re.compile(r"(?:Read-only file system|Permission denied): '([^']+)'"), _read_only),
    _Rule(re.compile(r"got an unexpected keyword argument '(\w+)'"),
          lambda m: f"a function was called with the argument '{m.group(1)}', which the library version in the "
          "sandbox does not accept: pin the versions you developed with in your requirements file"),
    _Rule(re.compile(r'File "([^"]+)", line (\d+)\n(?:.*\n){0,3}?\s*SyntaxError: (.+)'),
          lambda m: f"Python could not parse {m.group(1)} line {m.group(2)}: {m.group(3).strip()}"),
)


def explain_failure(output: str) -> str | None:
    """A sentence naming what went wrong and what to change, or None when the output names no cause."""
    text = _last_failure(output)
    if not text.strip():
        return None
    for rule in _RULES:
        match = rule.pattern.search(text)
        if match:
            return rule.explain(match)
    last = _last_exception_line(text)
    return f"it stopped with: {last}" if last else None


def error_excerpt(output: str) -> str:
    """The lines a reviewer reads first: the last traceback (or the last lines), at most EXCERPT_LINES lines and
    EXCERPT_CHARS characters."""
    text = _last_failure(output).strip("\n")
    lines = [line for line in text.splitlines() if line.strip()][-EXCERPT_LINES:]
    excerpt = "\n".join(lines)
    return excerpt[-EXCERPT_CHARS:]


def _last_failure(output: str) -> str:
    """From the last traceback on, when there is one: earlier ones were handled or retried."""
    start = output.rfind(_TRACEBACK)
    return output[start:] if start >= 0 else output[-8 * EXCERPT_CHARS:]


def _last_exception_line(text: str) -> str | None:
    found = [m.group(0).strip() for m in _EXCEPTION_LINE.finditer(text) if "Warning" not in m.group(1)]
    return found[-1][:300] if found else None
