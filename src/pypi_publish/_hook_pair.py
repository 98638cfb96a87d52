"""Run a backend's `get_requires_for_build_<kind>` and `build_<kind>` in one process.

Executed by the isolated build environment's Python (stdlib only). Each PEP 517 hook normally
gets a fresh interpreter that imports the backend again; asking for the requirements and then
building in the same process saves that start-up whenever nothing more must be installed,
which is the usual case. The parent decides that: this process reports the requirements on
its stdout, reads `build` or `stop` from its stdin, and reports the built file's name.

Usage: python _hook_pair.py KIND OUTDIR  (backend from `_PYPROJECT_HOOKS_BUILD_BACKEND`).
The parent runs a copy from an empty directory: sys.path[0] is the script's folder, and the
package's own folder would shadow stdlib modules for the backend.
"""

import importlib
import json
import os
import sys


def load_backend(spec: str) -> object:
    module_name, _, attribute = spec.partition(":")
    backend: object = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    return backend


def main() -> int:
    kind, outdir = sys.argv[1], sys.argv[2]
    channel = os.fdopen(os.dup(1), "w")
    # The backend's own prints go to the log (stderr), never into the channel.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    backend = load_backend(os.environ["_PYPROJECT_HOOKS_BUILD_BACKEND"])
    get_requires = getattr(backend, f"get_requires_for_build_{kind}", None)
    requires = list(get_requires({})) if get_requires is not None else []
    channel.write(json.dumps({"requires": requires}) + "\n")
    channel.flush()
    if sys.stdin.readline().strip() != "build":
        return 0
    built = getattr(backend, f"build_{kind}")(outdir, {})
    channel.write(json.dumps({"built": built}) + "\n")
    channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
