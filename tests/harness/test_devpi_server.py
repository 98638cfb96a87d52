"""The `devpi` fixture runs a real devpi-server whose two indexes answer uploads as devpi does."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.archives import metadata_text, write_wheel
from tests.support.devpi_server import DevpiIndex, DevpiServer

pytest_plugins = ["tests.support.devpi_fixtures"]

TWINE_TIMEOUT = 120


def unique_project() -> str:
    # One devpi serves the whole session: each test uploads under a name of its own.
    return f"harness-{uuid.uuid4().hex[:10]}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def twine_upload(index: DevpiIndex, user: str, password: str, *files: Path,
                 skip_existing: bool = False) -> subprocess.CompletedProcess[str]:
    # The password travels in the environment, never on a command line a process list shows.
    env = {**os.environ, "TWINE_USERNAME": user, "TWINE_PASSWORD": password,
           "TWINE_NON_INTERACTIVE": "1", "NO_COLOR": "1"}
    args = [sys.executable, "-m", "twine", "upload", "--repository-url", index.upload_url,
            "--disable-progress-bar", "--verbose", *(["--skip-existing"] if skip_existing else []),
            *map(str, files)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=TWINE_TIMEOUT,
                          stdin=subprocess.DEVNULL, check=False)


def said(result: subprocess.CompletedProcess[str]) -> str:
    """twine's output with rich's line wrapping undone."""
    return " ".join((result.stdout + result.stderr).split())


def other_wheel(directory: Path, project: str) -> Path:
    """A wheel with the same name as `write_wheel(…, project, "1.0")` but other bytes."""
    return write_wheel(directory, project, "1.0",
                       metadata_text(project, "1.0", "Keywords: other-bytes"))


@pytest.fixture(params=["volatile", "stable"])
def devpi_index(request: pytest.FixtureRequest, devpi: DevpiServer) -> DevpiIndex:
    chosen: DevpiIndex = getattr(devpi, request.param)
    return chosen


def test_twine_uploads_a_wheel_that_the_index_then_holds(
        devpi: DevpiServer, devpi_index: DevpiIndex, tmp_path: Path) -> None:
    project = unique_project()
    wheel = write_wheel(tmp_path, project, "1.0")
    result = twine_upload(devpi_index, devpi.user, devpi.password, wheel)
    assert result.returncode == 0, result.stdout + result.stderr
    assert devpi.files(devpi_index, project) == {wheel.name: sha256(wheel)}


def test_simple_page_lists_the_uploaded_file_with_its_sha256(
        devpi: DevpiServer, tmp_path: Path) -> None:
    project = unique_project()
    wheel = write_wheel(tmp_path, project, "1.0")
    assert twine_upload(devpi.stable, devpi.user, devpi.password, wheel).returncode == 0
    page = requests.get(devpi.stable.project_simple_url(project), timeout=10,
                        headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert page.status_code == 200
    assert [(f["filename"], f["hashes"]) for f in page.json()["files"]] == [
        (wheel.name, {"sha256": sha256(wheel)})]


def test_non_volatile_index_refuses_a_different_file_with_the_same_name(
        devpi: DevpiServer, tmp_path: Path) -> None:
    project = unique_project()
    first = write_wheel(tmp_path / "first", project, "1.0")
    assert twine_upload(devpi.stable, devpi.user, devpi.password, first).returncode == 0
    second = twine_upload(devpi.stable, devpi.user, devpi.password,
                          other_wheel(tmp_path / "second", project))
    assert second.returncode == 1
    assert f"409 {first.name} already exists in non-volatile index" in said(second)
    assert devpi.files(devpi.stable, project) == {first.name: sha256(first)}


def test_volatile_index_replaces_a_different_file_with_the_same_name(
        devpi: DevpiServer, tmp_path: Path) -> None:
    project = unique_project()
    first = write_wheel(tmp_path / "first", project, "1.0")
    replacement = other_wheel(tmp_path / "second", project)
    assert twine_upload(devpi.volatile, devpi.user, devpi.password, first).returncode == 0
    assert twine_upload(devpi.volatile, devpi.user, devpi.password, replacement).returncode == 0
    assert devpi.files(devpi.volatile, project) == {first.name: sha256(replacement)}


def test_twine_refuses_skip_existing_for_devpi_and_sends_nothing(
        devpi: DevpiServer, tmp_path: Path) -> None:
    # twine >= 6.2 allows --skip-existing only for PyPI and TestPyPI (twine/settings.py
    # `verify_feature_capability`): against devpi the product cannot lean on twine to skip.
    project = unique_project()
    first = write_wheel(tmp_path / "first", project, "1.0")
    assert twine_upload(devpi.volatile, devpi.user, devpi.password, first).returncode == 0
    result = twine_upload(devpi.volatile, devpi.user, devpi.password,
                          other_wheel(tmp_path / "second", project), skip_existing=True)
    assert result.returncode == 1
    assert "--skip-existing and is an unsupported configuration" in said(result)
    assert devpi.files(devpi.volatile, project) == {first.name: sha256(first)}


def test_identical_reupload_succeeds_and_keeps_the_file(
        devpi: DevpiServer, devpi_index: DevpiIndex, tmp_path: Path) -> None:
    project = unique_project()
    wheel = write_wheel(tmp_path, project, "1.0")
    assert twine_upload(devpi_index, devpi.user, devpi.password, wheel).returncode == 0
    again = twine_upload(devpi_index, devpi.user, devpi.password, wheel)
    assert again.returncode == 0, again.stdout + again.stderr
    assert devpi.files(devpi_index, project) == {wheel.name: sha256(wheel)}


def test_wrong_password_is_refused_with_401(devpi: DevpiServer, tmp_path: Path) -> None:
    project = unique_project()
    result = twine_upload(devpi.stable, devpi.user, "not-the-password",
                          write_wheel(tmp_path, project, "1.0"))
    assert result.returncode == 1
    assert "401 Unauthorized" in said(result)
    assert devpi.files(devpi.stable, project) == {}


def test_unknown_index_answers_404_naming_the_stage(devpi: DevpiServer, tmp_path: Path) -> None:
    missing = DevpiIndex(devpi.url, f"{devpi.user}/no-such-index", volatile=False)
    result = twine_upload(missing, devpi.user, devpi.password,
                          write_wheel(tmp_path, unique_project(), "1.0"))
    assert result.returncode == 1
    assert "404 Not Found" in said(result)
    assert f"The stage {missing.name} could not be found." in said(result)


def test_login_token_authenticates_uploads_as_the_user(devpi: DevpiServer, tmp_path: Path) -> None:
    project = unique_project()
    wheel = write_wheel(tmp_path, project, "1.0")
    assert twine_upload(devpi.stable, devpi.user, devpi.login_token(), wheel).returncode == 0
    assert devpi.files(devpi.stable, project) == {wheel.name: sha256(wheel)}


def test_files_of_a_project_the_index_lacks_is_empty(devpi: DevpiServer) -> None:
    assert devpi.files(devpi.stable, unique_project()) == {}


def test_files_of_an_index_that_does_not_exist_is_an_error(devpi: DevpiServer) -> None:
    missing = DevpiIndex(devpi.url, f"{devpi.user}/no-such-index", volatile=False)
    with pytest.raises(RuntimeError, match="could not be found"):
        devpi.files(missing, unique_project())


def test_no_pypi_mirror_exists_to_reach_the_network(devpi: DevpiServer) -> None:
    answer = requests.get(f"{devpi.url}/root/pypi/+simple/requests/", timeout=10)
    assert answer.status_code == 404
