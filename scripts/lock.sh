#!/usr/bin/env bash
# Regenerate requirements.lock after changing the dependencies in pyproject.toml: every package
# scripts/setup.sh installs (the runtime dependencies and the test and serve extras), pinned to
# one version, with the hashes of that version's files on PyPI.
#
# Pins already in requirements.lock are kept when they still satisfy pyproject.toml; to move
# them to the newest releases: bash scripts/lock.sh --upgrade (or --upgrade-package NAME).
# The lock is resolved from PyPI for CPython 3.11 on x86-64 Linux (Debian 12, what setup.sh
# installs on), whatever machine runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=var/lock-tools
if [ ! -x "$tools/bin/uv" ]; then
  python3 -m venv "$tools"
  "$tools/bin/python" -m pip install -q "uv==0.13.9"
fi
# (uv prints the lock as well as writing it: that copy goes to /dev/null)
"$tools/bin/uv" pip compile pyproject.toml --extra test --extra serve \
  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
  --default-index https://pypi.org/simple --generate-hashes --no-header \
  --output-file requirements.lock "$@" >/dev/null
