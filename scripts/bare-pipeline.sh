#!/usr/bin/env bash
# The MLOps capstone pipeline with plain docker commands and no checks: the baseline the grader's own
# overhead is measured against ("bare pipeline").
#
#   bash scripts/bare-pipeline.sh IMAGE_TAG [REFERENCE_DIR]
#
# IMAGE_TAG is a tag of capstone-grader/runtime (or a full image reference); REFERENCE_DIR defaults to
# labs/mlops-capstone/reference. The stages mirror labs/mlops-capstone/lab.yaml: an internal network, the
# MLflow server (read-only root, tmpfs /tmp), training (repository copy at /work, data at /data read-only),
# the model server, 200 sequential prediction requests from a third container, teardown. Only objects
# this script creates are touched (all named and labelled with one run id). Progress goes to stderr; the
# last line on stdout is one JSON object with the seconds per stage and the total.
# TRAIN_CMD, SERVE_CMD and SERVE_PORT override the capstone.yaml defaults.
set -euo pipefail

usage() { echo "usage: bash scripts/bare-pipeline.sh IMAGE_TAG [REFERENCE_DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=$1
[[ $IMAGE == */* || $IMAGE == *:* ]] || IMAGE="capstone-grader/runtime:$IMAGE"
REFERENCE=$(cd "${2:-$ROOT/labs/mlops-capstone/reference}" && pwd)
DATA=$ROOT/labs/mlops-capstone/data
TRAIN_CMD=${TRAIN_CMD:-python train.py}
SERVE_PORT=${SERVE_PORT:-8000}
SERVE_CMD=${SERVE_CMD:-python -m uvicorn app:app --host 0.0.0.0 --port $SERVE_PORT}
MODEL_NAME=fault-classifier
MODEL_ALIAS=champion
REQUESTS=200

docker image inspect "$IMAGE" >/dev/null 2>&1 || { echo "no image $IMAGE (see: docker images capstone-grader/runtime)" >&2; exit 2; }
for file in train.csv valid.csv; do [[ -f $DATA/$file ]] || { echo "missing $DATA/$file" >&2; exit 2; }; done

RUN_ID=bare-$(date +%s)-$$
NET=$RUN_ID-net
LABEL="capstone-bare.run=$RUN_ID"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$RUN_ID.XXXX")

cleanup() {
    local ids
    ids=$(docker ps -aq --filter "label=$LABEL" 2>/dev/null || true)
    [[ -z $ids ]] || docker rm -f $ids >/dev/null 2>&1 || true
    docker network rm "$NET" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
say() { echo "[bare-pipeline] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# The training writes into /work, so it gets a copy owned by the sandbox user, never the reference itself.
cp -a "$REFERENCE/." "$WORK/"
if [[ $(id -u) == 0 ]]; then chown -R 1000:1000 "$WORK"; else chmod -R a+rwX "$WORK"; fi

# What the grader gives every container: an unprivileged user, read-only root, tmpfs /tmp, limits.
SANDBOX=(--label "$LABEL" --user 1000:1000 --read-only --tmpfs /tmp:rw,size=256m,mode=1777
         --cap-drop ALL --security-opt no-new-privileges --init --pids-limit 256 --memory 2g --cpus 1
         -e HOME=/tmp -e LANG=C.UTF-8 -e PYTHONUNBUFFERED=1 -e PYTHONDONTWRITEBYTECODE=1)
CANDIDATE=("${SANDBOX[@]}" -v "$WORK:/work" -w /work)
MLFLOW_ENV=(-e MLFLOW_TRACKING_URI=http://mlflow:5000 -e MODEL_NAME=$MODEL_NAME -e MODEL_ALIAS=$MODEL_ALIAS -e MODEL_STAGE=)

# Waits (in a container on the network) until a URL answers 200 or a port accepts TCP.
wait_for() {  # wait_for NAME TARGET TIMEOUT, TARGET = http://host:port/path or host:port
    docker run --rm --name "$RUN_ID-wait-$1" "${SANDBOX[@]}" --network "$NET" --memory 256m "$IMAGE" python -c '
import socket, sys, time, urllib.request
target, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        if target.startswith("http"):
            if urllib.request.urlopen(target, timeout=2).status == 200:
                sys.exit(0)
        else:
            host, port = target.rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=1).close()
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)' "$2" "$3"
}

STARTED=$(now)

say "network $NET (internal)"
docker network create --internal --label "$LABEL" "$NET" >/dev/null

say "mlflow server"
t=$(now)
docker run -d --name "$RUN_ID-mlflow" "${SANDBOX[@]}" --network "$NET" --network-alias mlflow "$IMAGE" sh -c \
    "mlflow server --host 0.0.0.0 --port 5000 --workers 1 --backend-store-uri sqlite:////tmp/mlflow.db \
     --serve-artifacts --artifacts-destination /tmp/mlartifacts --allowed-hosts '*'" >/dev/null
wait_for mlflow http://mlflow:5000/health 90 || { docker logs --tail 40 "$RUN_ID-mlflow" >&2; fail "mlflow did not answer"; }
MLFLOW_S=$(since "$t")

say "train: $TRAIN_CMD"
t=$(now)
docker run --rm --name "$RUN_ID-train" "${CANDIDATE[@]}" --network "$NET" "${MLFLOW_ENV[@]}" -e DATA_DIR=/data \
    -v "$DATA/train.csv:/data/train.csv:ro" -v "$DATA/valid.csv:/data/valid.csv:ro" \
    "$IMAGE" sh -c "$TRAIN_CMD" >&2 || fail "training exited non-zero"
TRAIN_S=$(since "$t")

say "serve: $SERVE_CMD"
t=$(now)
docker run -d --name "$RUN_ID-serve" "${CANDIDATE[@]}" --network "$NET" --network-alias model-server \
    "${MLFLOW_ENV[@]}" -e PORT="$SERVE_PORT" "$IMAGE" sh -c "$SERVE_CMD" >/dev/null
wait_for serve "model-server:$SERVE_PORT" 60 || { docker logs --tail 40 "$RUN_ID-serve" >&2; fail "the model server did not listen"; }
SERVE_S=$(since "$t")

say "$REQUESTS sequential prediction requests"
t=$(now)
STATS=$(docker run --rm --name "$RUN_ID-load" "${SANDBOX[@]}" --network "$NET" --memory 512m \
    -v "$DATA/valid.csv:/data/valid.csv:ro" "$IMAGE" python -c '
import csv, json, statistics, sys, time
import requests
url, count = sys.argv[1], int(sys.argv[2])
with open("/data/valid.csv") as handle:
    rows = [[float(v) for v in row[:-1]] for row in list(csv.reader(handle))[1:]]
session, latencies, errors = requests.Session(), [], 0
for i in range(count):
    started = time.perf_counter()
    try:
        response = session.post(url, json={"features": rows[i % len(rows)]}, timeout=10)
        errors += response.status_code != 200
    except requests.RequestException:
        errors += 1
    latencies.append((time.perf_counter() - started) * 1000)
latencies.sort()
print(json.dumps({"requests": count, "errors": errors, "p50_ms": round(statistics.median(latencies), 1),
                  "p95_ms": round(latencies[int(0.95 * (count - 1))], 1)}))' "http://model-server:$SERVE_PORT/predict" "$REQUESTS") \
    || fail "the request client failed"
REQUESTS_S=$(since "$t")
say "requests: $STATS"

say "teardown"
t=$(now)
docker rm -f "$RUN_ID-serve" "$RUN_ID-mlflow" >/dev/null
docker network rm "$NET" >/dev/null
TEARDOWN_S=$(since "$t")
TOTAL_S=$(since "$STARTED")

ERRORS=$(sed -E 's/.*"errors": ([0-9]+).*/\1/' <<<"$STATS")
echo "{\"image\": \"$IMAGE\", \"mlflow_ready_s\": $MLFLOW_S, \"train_s\": $TRAIN_S, \"serve_ready_s\": $SERVE_S," \
     "\"requests_s\": $REQUESTS_S, \"teardown_s\": $TEARDOWN_S, \"total_s\": $TOTAL_S, \"load\": $STATS}"
[[ $ERRORS == 0 ]] || exit 1
