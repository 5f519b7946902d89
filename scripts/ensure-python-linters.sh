#!/usr/bin/env bash
# Install flake8, pylint and black into a folder the lint check type mounts read-only into sandboxes
# (the runtime image holds none of them). The sandbox's own Python runs them from there, so the folder
# must be built for the same Python minor version as the runtime image (3.11).
#   GRADER_PYTHON_LINTERS  the folder (default ~/.cache/capstone-grader/python-linters)
# Idempotent: does nothing when the three are already there.
set -euo pipefail

target=${GRADER_PYTHON_LINTERS:-${HOME}/.cache/capstone-grader/python-linters}
python=${PYTHON:-python3.11}

say() { printf 'ensure-python-linters: %s\n' "$*" >&2; }

if [ -d "$target/flake8" ] && [ -d "$target/pylint" ] && [ -d "$target/black" ]; then
  say "already installed in $target"
  exit 0
fi
mkdir -p "$target"
"$python" -m pip install --quiet --disable-pip-version-check --target "$target" \
  --python-version 3.11 --only-binary=:all: flake8 pylint black
say "installed in $target: $(ls "$target" | grep -E '^(flake8|pylint|black)-' | tr '\n' ' ')"
