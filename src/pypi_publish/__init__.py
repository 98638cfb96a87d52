"""Publish Python distributions to PyPI or any index: build, check, authenticate, upload, report."""

import os as _os
import sys as _sys
from pathlib import Path as _Path

__version__ = "0.1.0"


def _keep_the_project_off_the_path() -> None:
    """A workflow's `PYTHONPATH=.` puts the project before the standard library; its own modules
    (a root `tarfile.py`, `build.py`) must not stand in for this tool's imports."""
    listed = _os.environ.get("PYTHONPATH", "")
    if not listed:
        return
    here = _Path.cwd().resolve()
    if here in {_Path(p or ".").resolve() for p in listed.split(_os.pathsep)}:
        _sys.path[:] = [p for p in _sys.path if _Path(p or ".").resolve() != here]


_keep_the_project_off_the_path()
