"""No secret reaches the build backend, by value or by name; what a build needs still does."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from pypi_publish.build_env import build_environment
from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.gha import Console
from tests.conftest import MakeProject
from tests.support.secret_sweep import new_secret

KEPT = {"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_OTHER": "1.0", "CFLAGS": "-O2", "PIP_DEFAULT_TIMEOUT": "60",
        "https_proxy": "http://127.0.0.1:3128", "SOURCE_DATE_EPOCH": "1700000000"}


def test_the_backend_sees_no_secret_under_any_name(
    project: MakeProject, tmp_path: Path
) -> None:
    token, github = new_secret("pypi-"), new_secret("ghs_")
    workspace = project("nosy", "1.0.0")
    spy = tmp_path / "environ.json"
    (workspace / "setup.py").write_text(
        "import json, os\nfrom setuptools import setup\n"
        f"open({str(spy)!r}, 'w').write(json.dumps(dict(os.environ)))\nsetup()\n")
    env = {**os.environ, **KEPT, "password": token, "INPUT_PASSWORD": token, "MY_PYPI": token,
           "UPLOAD_URL": f"https://__token__:{token}@upload.example.org/", "GH_TOKEN": github,
           "repository-url": "https://upload.example.org/"}
    out = io.StringIO()
    build_distributions(
        BuildRequest(workspace, workspace / "dist", secrets=frozenset({token}), environ=env,
                     input_names=frozenset({"password", "repository-url"}), verbose=True),
        Console(out=out, verbose=True))
    seen = json.loads(spy.read_text())
    spy.unlink()
    assert token not in json.dumps(seen) and github not in json.dumps(seen)
    assert {"password", "INPUT_PASSWORD", "MY_PYPI", "UPLOAD_URL", "GH_TOKEN",
            "repository-url"}.isdisjoint(seen)
    assert {k: seen.get(k) for k in KEPT} == KEPT
    assert ("Not passed to the build: GH_TOKEN, INPUT_PASSWORD, MY_PYPI, UPLOAD_URL, password, "
            "repository-url") in out.getvalue()


def test_names_that_say_credential_are_removed_whatever_their_case() -> None:
    env = {"NPM_TOKEN": "a", "db_password": "b", "CLIENT_SECRET_FILE": "c", "SIGNING_KEY": "d",
           "AWS_CREDENTIALS": "e", "KEYRING_BACKEND": "kept", "MONKEY": "kept"}
    assert build_environment(env, secrets=()).variables == {"KEYRING_BACKEND": "kept", "MONKEY": "kept"}


def test_a_short_secret_removes_only_a_variable_that_is_exactly_it() -> None:
    env = {"SHORT": "abc1", "PATH": "/opt/abc1/bin:/usr/bin"}
    assert build_environment(env, secrets={"abc1"}).variables == {"PATH": "/opt/abc1/bin:/usr/bin"}


def test_pythonpath_does_not_reach_the_build() -> None:
    assert build_environment({"PYTHONPATH": ".", "PATH": "/usr/bin"}, secrets=()).removed == ("PYTHONPATH",)
