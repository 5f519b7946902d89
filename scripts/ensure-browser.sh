#!/usr/bin/env bash
# Make sure a headless browser for the web-page tests is installed: Debian's `chromium`, which Playwright
# (a pip dependency of the dev extra, installed into .venv by pyproject.toml) drives through
# `executable_path`. Playwright's own browser download is never used: it fetches from outside the
# package registries. Idempotent: does nothing when chromium is on PATH and playwright imports in the venv.
# Prints nothing on stdout; the path of the browser goes to stderr. CHROMIUM overrides the lookup, VENV the
# virtual environment (default .venv).
set -euo pipefail

say() { printf 'ensure-browser: %s\n' "$*" >&2; }
venv=${VENV:-.venv}

find_chromium() {
  local name
  for name in "${CHROMIUM:-}" chromium chromium-browser; do
    [ -n "$name" ] && command -v "$name" 2>/dev/null && return 0
  done
  return 1
}

ensure_playwright() {
  [ -x "$venv/bin/python" ] || { say "no virtual environment at $venv (run make setup); skipping playwright"; return 0; }
  if "$venv/bin/python" -c 'import playwright' 2>/dev/null; then
    return 0
  fi
  "$venv/bin/pip" install -q 'playwright>=1.45' >&2
  say "playwright installed in $venv"
}

if found=$(find_chromium); then
  say "chromium already installed ($found)"
  ensure_playwright
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  say "chromium is missing: install it (Debian/Ubuntu: the 'chromium' package) or set CHROMIUM to its path;"
  say "the browser tests of the cohort report and of 'grader serve' need it"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Another setup may be installing packages at the same moment: wait for dpkg's lock instead of failing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@"; }
if ! apt_get install --no-install-recommends chromium >/dev/null 2>&1; then
  apt_get update >/dev/null
  apt_get install --no-install-recommends chromium >/dev/null
fi
say "chromium installed: $(chromium --version 2>/dev/null | head -n 1)"
ensure_playwright
