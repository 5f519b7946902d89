"""The grader's probe: executes a plan of HTTP observations against the run's services.

Runs inside a sandbox container on the run network, with the standard library only. It reads the plan
from /grader/plan/plan.json and prints one line ``GRADER-PROBE-RESULT <json>``. It judges nothing:
statuses, bodies (capped), latencies and scraped texts go back to the grader as they were observed.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import time
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

RESULT_MARKER = "GRADER-PROBE-RESULT "
BODY_CAP = 4096
SCRAPE_CAP = 2 * 1024 * 1024


# Header sets of common HTTP clients, in the order each sends them (Host first, added by http.client): the
# probe's requests look like ordinary clients', picked at random per request, never like a grader's.
CLIENT_HEADERS = (
    (("User-Agent", "python-requests/2.32.3"), ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"),
     ("Connection", "keep-alive")),
    (("User-Agent", "curl/8.5.0"), ("Accept", "*/*")),
    (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("Connection", "keep-alive"),
     ("User-Agent", "python-httpx/0.27.2")),
    (("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
     ("Accept", "application/json, text/plain, */*"), ("Accept-Language", "en-US,en;q=0.5"),
     ("Accept-Encoding", "gzip, deflate"), ("Connection", "keep-alive")),
)
CHUNK = 16 * 1024
_random = random.SystemRandom()


def client_headers() -> tuple[tuple[str, str], ...]:
    """One common client's headers, chosen at random."""
    return _random.choice(CLIENT_HEADERS)


def _read_within(response: http.client.HTTPResponse, cap: int, deadline: float) -> tuple[bytes, bool]:
    """The body, at most ``cap`` + 1 bytes, read before ``deadline``; raises TimeoutError past it (a server that
    answers a byte at a time cannot hold the probe longer than one request's time)."""
    data = b""
    while len(data) <= cap:
        if time.perf_counter() > deadline:
            raise TimeoutError("the answer did not complete within the request's time limit")
        chunk = response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
        if not chunk:
            return data, False
        data += chunk
    return data, True


def _decoded(data: bytes, encoding: str | None, cap: int) -> bytes:
    """A gzip or deflate body decompressed, at most ``cap`` + 1 bytes (no decompression bomb)."""
    if (encoding or "").lower() not in ("gzip", "deflate"):
        return data
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    return decompressor.decompress(data, cap + 1)


def request(url: str, method: str = "GET", body: bytes | None = None, content_type: str | None = None,
            timeout: float = 5.0, cap: int = BODY_CAP) -> dict[str, Any]:
    """One HTTP exchange as a common client would make it; never raises. The whole exchange must finish within
    ``timeout`` seconds, and the body is read only up to ``cap`` bytes (a longer one is ``truncated``)."""
    parts = urllib.parse.urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
    try:
        connection.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                              skip_accept_encoding=True)
        for name, value in client_headers():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Type", content_type or "application/octet-stream")
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        raw, truncated = _read_within(response, cap, started + timeout)
        data = _decoded(raw, response.getheader("Content-Encoding"), cap)
        return {
            "status": response.status,
            "content_type": response.getheader("Content-Type", ""),
            "body": data[:cap].decode("utf-8", errors="replace"),
            "truncated": truncated or len(data) > cap,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    except Exception as exc:  # the candidate's server may do anything; report it, never crash
        return {"status": None, "error": f"{type(exc).__name__}: {exc}"[:300],
                "latency_ms": round((time.perf_counter() - started) * 1000, 3)}
    finally:
        connection.close()


def json_request(url: str, payload: Any, timeout: float, cap: int = BODY_CAP) -> dict[str, Any]:
    return request(url, "POST", json.dumps(payload).encode(), "application/json", timeout, cap)


def send(url: str, body: Any, prepared: bool, timeout: float) -> dict[str, Any]:
    """POST one body: a JSON value, or (``prepared``) ``{"body": text, "content_type": type}`` sent as it is
    (form and multipart requests, or JSON the grader encoded itself)."""
    if prepared:
        return request(url, "POST", body["body"].encode(), body.get("content_type"), timeout)
    return json_request(url, body, timeout)


def run_action(action: dict[str, Any], timeout: float) -> dict[str, Any]:
    kind = action["do"]
    prepared = bool(action.get("prepared"))
    if kind == "get":
        return request(action["url"], timeout=timeout, cap=action.get("cap", SCRAPE_CAP))
    if kind == "post":
        return json_request(action["url"], action["json"], timeout)
    if kind == "predict":
        return {"responses": [send(action["url"], body, prepared, timeout) for body in action["bodies"]]}
    if kind == "raw":
        return {"responses": [
            request(action["url"], "POST", item["body"].encode(), item.get("content_type"), timeout)
            for item in action["requests"]
        ]}
    if kind == "load":
        return load(action, timeout)
    if kind == "mlflow":
        return mlflow_snapshot(action["url"], timeout)
    if kind == "set-alias":
        return json_request(action["url"] + "/api/2.0/mlflow/registered-models/alias",
                            {"name": action["model"], "alias": action["alias"], "version": action["version"]}, timeout)
    if kind == "watch":
        return watch(action, timeout)
    return {"error": f"unknown action {kind!r}"}


def watch(action: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send ``bodies`` round after round until ``confirm`` rounds in a row all answer 2xx and all (``until: all``)
    or none (``until: none``) of the answers contain ``token``, or until ``deadline_s``. Each round's statuses
    and token count are kept, with the bodies of the last ``confirm`` rounds and the first failed answers; the
    grader judges them."""
    bodies, token, confirm = action["bodies"], action["token"], int(action.get("confirm", 3))
    wanted = len(bodies) if action["until"] == "all" else 0
    started = time.perf_counter()
    deadline = started + float(action["deadline_s"])
    rounds: list[dict[str, Any]] = []
    recent: list[list[str]] = []
    failures: list[dict[str, Any]] = []
    streak = 0
    while streak < confirm and time.perf_counter() < deadline:
        answers = [json_request(action["url"], body, timeout) for body in bodies]
        statuses = [a.get("status") for a in answers]
        hits = sum(token in a.get("body", "") for a in answers)
        rounds.append({"t": round(time.perf_counter() - started, 3), "statuses": statuses, "hits": hits})
        failed = [a for a in answers if not (isinstance(a.get("status"), int) and 200 <= a["status"] < 300)]
        failures += [{"t": rounds[-1]["t"], "status": a.get("status"), "body": a.get("body", a.get("error", ""))[:300]}
                     for a in failed][: max(0, 10 - len(failures))]
        recent = [*recent, [a.get("body", "") for a in answers]][-confirm:]
        all_ok = not failed
        streak = streak + 1 if all_ok and hits == wanted else 0
        time.sleep(float(action.get("interval_s", 0.02)))
    return {"matched": streak >= confirm, "elapsed_s": round(time.perf_counter() - started, 3), "rounds": rounds,
            "last_bodies": recent, "failures": failures}


def load(action: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``requests`` POSTs cycling through ``bodies`` with ``concurrency`` workers; per-request status and latency."""
    bodies = action["bodies"]
    total = int(action["requests"])
    prepared = bool(action.get("prepared"))

    def one(index: int) -> dict[str, Any]:
        result = send(action["url"], bodies[index % len(bodies)], prepared, timeout)
        return {"status": result["status"], "latency_ms": result["latency_ms"], "error": result.get("error")}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=int(action["concurrency"])) as pool:
        results = list(pool.map(one, range(total)))
    return {"results": results, "wall_s": round(time.perf_counter() - started, 3)}


def mlflow_snapshot(base: str, timeout: float) -> dict[str, Any]:
    """Everything the tracking server holds that grading looks at: experiments, runs, models, versions."""
    def call(path: str, payload: Any = None) -> Any:
        url = base + path
        # Registry answers are read whole (up to the scrape cap): runs/search grows with every run.
        reply = (json_request(url, payload, timeout, SCRAPE_CAP) if payload is not None
                 else request(url, timeout=timeout, cap=SCRAPE_CAP))
        if reply.get("status") != 200:
            detail = reply.get("error") or reply.get("body", "")[:200]
            raise RuntimeError(f"{path}: HTTP {reply.get('status')} {detail}")
        return json.loads(reply["body"])

    try:
        experiments = call("/api/2.0/mlflow/experiments/search", {"max_results": 1000}).get("experiments", [])
        runs: list[Any] = []
        ids = [e["experiment_id"] for e in experiments]
        if ids:
            runs = call("/api/2.0/mlflow/runs/search", {"experiment_ids": ids, "max_results": 1000,
                                                         "run_view_type": "ALL"}).get("runs", [])
        models = call("/api/2.0/mlflow/registered-models/search?max_results=1000").get("registered_models", [])
        versions: list[Any] = []
        for model in models:
            name = urllib.parse.quote(f"name='{model['name']}'")
            versions += call(f"/api/2.0/mlflow/model-versions/search?filter={name}&max_results=1000").get(
                "model_versions", [])
        return {"experiments": experiments, "runs": runs, "registered_models": models, "versions": versions}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def main() -> int:
    with open(sys.argv[1] if len(sys.argv) > 1 else "/grader/plan/plan.json", encoding="utf-8") as handle:
        plan = json.load(handle)
    timeout = float(plan.get("timeout", 5.0))
    results = {}
    for action in plan["actions"]:
        results[action["label"]] = run_action(action, timeout)
    sys.stdout.write(RESULT_MARKER + json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
