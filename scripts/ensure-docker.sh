#!/usr/bin/env bash
# Make sure a Docker engine answers. Idempotent: does nothing when one already runs.
# On Debian/Ubuntu as root it installs docker.io and starts dockerd in the background,
# logging to ${GRADER_DOCKERD_LOG:-/var/log/grader-dockerd.log}.
set -euo pipefail

log=${GRADER_DOCKERD_LOG:-/var/log/grader-dockerd.log}
wait_seconds=${GRADER_DOCKERD_WAIT:-60}

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  say "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  say "no Docker engine answers and this is not root: start one (e.g. 'sudo systemctl start docker') and retry"
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no Docker engine and no apt-get to install one: install Docker for this system and retry"
    exit 1
  fi
  say "installing docker.io from the Debian archive"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  say "starting dockerd (log: $log)"
  mkdir -p "$(dirname "$log")"
  nohup dockerd >>"$log" 2>&1 &
fi

for _ in $(seq "$wait_seconds"); do
  if engine_answers; then
    say "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within ${wait_seconds}s; last lines of $log:"
tail -n 20 "$log" >&2 || true
exit 1
