"""A second, differently shaped client: resends some of the probe's requests as another tool would.

Runs in a container of its own (not the probe's), on the run network. It speaks like curl — its
``User-Agent``, header names and order, ``Accept: */*``, one connection per request — rather than like the
probe, so a server that recognises the probe (by headers, their order, its address or its connection reuse)
and answers it differently from other clients shows it in the comparison the grader makes.

Usage: second_client.py PLAN_JSON   (plan: {"url": ..., "bodies": [...], "timeout": seconds})
Prints one line ``GRADER-PROBE-RESULT {"responses": [{"status", "body", "error", "truncated"}, ...]}``.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

RESULT_MARKER = "GRADER-PROBE-RESULT "
USER_AGENT = "curl/7.88.1"
MAX_BODY = 64 * 1024


def send(url: str, body: Any, timeout: float) -> dict[str, Any]:
    """One POST in curl's shape; the answer, or the error that kept it from coming."""
    parts = urlsplit(url)
    payload = json.dumps(body, separators=(",", ":")).encode()
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    deadline = time.monotonic() + timeout
    try:
        connection.putrequest("POST", parts.path or "/", skip_host=True, skip_accept_encoding=True)
        host = (parts.hostname or "") if parts.port in (None, 80) else f"{parts.hostname}:{parts.port}"
        for name, value in (("Host", host), ("User-Agent", USER_AGENT), ("Accept", "*/*"),
                            ("Content-Type", "application/json"), ("Content-Length", str(len(payload)))):
            connection.putheader(name, value)
        connection.endheaders(payload)
        response = connection.getresponse()
        chunks, size = [], 0
        while size <= MAX_BODY and time.monotonic() < deadline:
            chunk = response.read1(16384) if hasattr(response, "read1") else response.read(16384)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        body_bytes = b"".join(chunks)
        truncated = size > MAX_BODY or time.monotonic() >= deadline
        return {"status": response.status, "body": body_bytes[:MAX_BODY].decode("utf-8", "replace"),
                "truncated": truncated, "content_type": response.getheader("Content-Type", "")}
    except (OSError, http.client.HTTPException) as error:
        return {"status": None, "error": f"{type(error).__name__}: {error}"}
    finally:
        connection.close()


def main(plan_path: str) -> None:
    with open(plan_path, encoding="utf-8") as handle:
        plan = json.load(handle)
    timeout = float(plan.get("timeout", 10))
    responses = [send(plan["url"], body, timeout) for body in plan["bodies"]]
    print(RESULT_MARKER + json.dumps({"responses": responses}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
