#!/usr/bin/env bash
# Installs what `grader worker` tests and deployments use: redis-server (the Celery broker) and PostgreSQL's
# initdb/pg_ctl/postgres (the shared job store). Idempotent: installs only what is missing. Debian, as root.
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
have_postgres || missing+=(postgresql)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing: ${missing[*]}; install them (Debian: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the tests start their own on free loopback ports.
  if command -v service >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || true
  fi
fi
echo "redis-server: $(command -v redis-server)"
echo "postgres: $(command -v initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' | head -1)"
