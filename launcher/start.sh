#!/bin/sh
# Find a Python 3.10+ on the runner and start the launcher with it (action.yml, Linux and macOS).
# Tried in order: PYPI_PUBLISH_PYTHON, the one actions/setup-python set up (pythonLocation),
# python3, python and python3.X on PATH, then the runner's tool cache, newest first.
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
tried=""

fits() {
  [ -n "$1" ] || return 1
  command -v "$1" >/dev/null 2>&1 || return 1
  if "$1" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
    return 0
  fi
  tried="$tried $1"
  return 1
}

# The tool cache's versions (<cache>/Python/<version>/<arch>/bin/python3), newest first.
cached_versions() {
  [ -d "${RUNNER_TOOL_CACHE:-}/Python" ] || return 0
  for dir in "$RUNNER_TOOL_CACHE"/Python/*/; do
    dir=${dir%/}
    printf '%s\n' "${dir##*/}"
  done | sort -t. -k1,1nr -k2,2nr -k3,3nr
}

for candidate in "${PYPI_PUBLISH_PYTHON:-}" "${pythonLocation:+$pythonLocation/bin/python}" \
  python3 python python3.14 python3.13 python3.12 python3.11 python3.10; do
  if fits "$candidate"; then exec "$candidate" -I "$here/launch.py"; fi
done
arch=$(printf '%s' "${RUNNER_ARCH:-x64}" | tr '[:upper:]' '[:lower:]')
for version in $(cached_versions); do
  candidate="$RUNNER_TOOL_CACHE/Python/$version/$arch/bin/python3"
  if fits "$candidate"; then exec "$candidate" -I "$here/launch.py"; fi
done

echo "::error title=No Python 3.10+ on the runner::pypi-publish starts from Python 3.10 or newer on the runner and found none (too old:${tried:- none}). Add actions/setup-python with python-version: \"3.13\" before this step."
exit 1
