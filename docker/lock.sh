#!/usr/bin/env bash
# Refresh the image's hash-pinned locks: docker/requirements.lock (the runtime: pyproject.toml's
# dependencies + docker/requirements.in) and docker/build-requirements.lock (the builder stage).
#   docker/lock.sh              keep the current pins, add what is new (after editing a dependency)
#   docker/lock.sh --upgrade    move every pin to the newest release
# Every wheel of each pinned version gets its hash (--universal), so one lock installs on every
# Python the image may be built on (3.10+; CPython wheels of charset-normalizer are per version).
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-$(command -v uv || echo .venv/bin/uv)}
compile=("$uv" pip compile --quiet --generate-hashes --universal --python-version 3.10
         --custom-compile-command "docker/lock.sh" "$@")
"${compile[@]}" pyproject.toml docker/requirements.in -o docker/requirements.lock
"${compile[@]}" docker/build-requirements.in -o docker/build-requirements.lock
echo "docker/requirements.lock: $(grep -c '^[a-z]' docker/requirements.lock) packages;" \
     "docker/build-requirements.lock: $(grep -c '^[a-z]' docker/build-requirements.lock)"
