"""The scan for POSIX-only calls: it finds them, and it accepts the guards host mode uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.posix_only import scan


def findings(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "module.py"
    path.write_text(source)
    return [finding.what for finding in scan(path, tmp_path)]


@pytest.mark.parametrize(("source", "what"), [
    ("import os\nos.chown('f', 1, 1)\n", "os.chown"),
    ("import os\ndef f():\n    return os.geteuid()\n", "os.geteuid"),
    ("import pwd\n", "import pwd"),
    ("import subprocess\nsubprocess.run(['x'], preexec_fn=print)\n",
     "preexec_fn= (POSIX-only process option)"),
    ("import shlex\nshlex.quote('x')\n", "shlex.quote (POSIX shell quoting)"),
    ("path = '/tmp/cache'\n", "the POSIX path '/tmp/cache'"),
])
def test_unguarded_posix_only_uses_are_found(tmp_path: Path, source: str, what: str) -> None:
    assert findings(tmp_path, source) == [what]


@pytest.mark.parametrize("source", [
    "import os\nif os.name == 'posix':\n    os.chown('f', 1, 1)\n",
    "import os\nok = hasattr(os, 'geteuid') and os.geteuid() == 0\n",
    "import os\ndef f():\n    if os.name == 'nt':\n        return None\n    return os.getuid()\n",
    "try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n",
    "import os, subprocess\nposix = os.name != 'nt'\nsubprocess.run(['x'], start_new_session=posix)\n",
    "import os\nos.chown('f', 1, 1)  # posix-only: only where the workspace has another owner\n",
    "def f(os_name):\n    import os\n    if os_name == 'posix':\n        os.execv('/bin/x', ['x'])\n",
    "import subprocess\nsubprocess.run(['x'], user=None)\n",
])
def test_guarded_uses_pass(tmp_path: Path, source: str) -> None:
    assert findings(tmp_path, source) == []
