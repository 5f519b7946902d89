#!/usr/bin/env bash
# Build a minimal Debian bookworm image with Python 3.11 from Debian packages alone, for
# machines that reach a Debian mirror but no container registry.
# Usage: build-debootstrap.sh IMAGE_TAG
set -euo pipefail
tag=${1:?usage: build-debootstrap.sh IMAGE_TAG}
mirror=${GRADER_DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { printf 'build-base: %s\n' "$*" >&2; }

if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  else
    say "debootstrap is missing; install it, or set GRADER_BASE_IMAGE to an image with Python 3.11 (e.g. python:3.11-slim)"
    exit 1
  fi
fi

root=$(mktemp -d /tmp/grader-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
say "debootstrap bookworm into $root (about 40 s)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# Trim what a sandbox never needs: package caches and documentation.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag" >/dev/null
say "built $tag"
