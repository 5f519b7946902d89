#!/usr/bin/env bash
# Make sure the host tools some check types mount read-only into sandboxes are installed.
# Idempotent: does nothing when they are already on PATH.
#   promtool — from Debian's `prometheus` package. Only the promtool binary is extracted (to
#              ${GRADER_TOOLS_BIN:-/usr/local/bin}); installing the package would also start a
#              Prometheus server on port 9090, which grading never needs.
set -euo pipefail

bin_dir=${GRADER_TOOLS_BIN:-/usr/local/bin}

say() { printf 'ensure-tools: %s\n' "$*" >&2; }

if command -v promtool >/dev/null 2>&1; then
  say "promtool already installed ($(command -v promtool))"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "promtool is missing: install it (Debian/Ubuntu: the 'prometheus' package) and retry;"
  say "the observe lab's alert-rules checks report 'error' without it"
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
chown _apt "$work" 2>/dev/null || true   # apt-get download drops privileges to _apt when it can
export DEBIAN_FRONTEND=noninteractive
if ! apt-get download prometheus >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get download prometheus >/dev/null
fi
dpkg-deb -x prometheus_*.deb extracted
install -m 0755 extracted/usr/bin/promtool "$bin_dir/promtool"
say "promtool installed: $("$bin_dir/promtool" --version 2>&1 | head -n 1)"
