"""Publish Python distributions to PyPI or any index: build, check, authenticate, upload, report."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _keep_the_project_off_the_path() -> None:
    """A workflow's `PYTHONPATH=.` puts the project before the standard library; its own modules
    (a root `tarfile.py`, `build.py`) must not stand in for this tool's imports."""
    listed = _os.environ.get("PYTHONPATH", "")
    if not listed:
        return
    here = _os.path.abspath(_os.getcwd())
    from_variable = {_os.path.abspath(p or ".") for p in listed.split(_os.pathsep)}
    if here in from_variable:
        _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != here]


_keep_the_project_off_the_path()
