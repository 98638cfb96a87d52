"""Run a backend's `get_requires_for_build_<kind>` and, if nothing is missing, `build_<kind>`, in one process.

Executed by the isolated build environment's Python (standard library only). Each PEP 517 hook
normally gets a fresh interpreter that imports the backend again; asking for the requirements and
then building in the same process saves that start-up whenever nothing more must be installed,
which is the usual case.

Usage: python _hook_pair.py ASK_JSON, where ASK_JSON holds `backend`, `kind`, `outdir`,
`config_settings`, `installed` (requirements already in the environment), `status` (the file
naming the running hook) and `answer`, the file this writes: `{"built": NAME}`, or
`{"requires": [...]}` when the backend wants requirements that are not installed yet (then it
does not build). The parent runs a copy from an empty directory, with the project as the working
directory and stdin on /dev/null.
"""

import importlib
import json
import sys
import time
from pathlib import Path


def load_backend(spec: str) -> object:
    module_name, _, attribute = spec.partition(":")
    backend: object = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    return backend


def enter(status: Path, step: str) -> None:
    scratch = status.with_suffix(".tmp")
    scratch.write_text(json.dumps({"step": step, "since": time.time()}), encoding="utf-8")
    scratch.replace(status)


def main() -> int:
    ask = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    # This script's folder is a scratch folder: nothing for the backend to import from there.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    kind, settings = ask["kind"], ask["config_settings"]
    backend = load_backend(ask["backend"])
    get_requires = getattr(backend, "get_requires_for_build_" + kind, None)
    requires = list(get_requires(settings)) if get_requires is not None else []
    missing = sorted(set(requires) - set(ask["installed"]))
    if missing:
        answer: dict[str, object] = {"requires": missing}
    else:
        enter(Path(ask["status"]), "build_" + kind)
        answer = {"built": getattr(backend, "build_" + kind)(ask["outdir"], settings)}
    Path(ask["answer"]).write_text(json.dumps(answer), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
