"""Publishing to a real devpi-server (a volatile and a non-volatile index) beside pypiserver.

devpi's answers differ from PyPI's where it matters most: its simple API is `+simple/`, a
volatile index *replaces* a file uploaded again (with a 200), and it logs in with a user name and
password. The product must find the listing, never send a file that would replace one, and call a
refused login what it is. A fault proxy in front of devpi counts what was sent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Run, RunAction, RunCli
from tests.support.archives import metadata_text, write_wheel
from tests.support.devpi_server import DevpiIndex, DevpiServer
from tests.support.fault_proxy import FaultProxy
from tests.support.index_server import IndexServer, free_port
from tests.support.secret_sweep import new_secret

FAST = {"PYPI_PUBLISH_RETRY_BASE_DELAY": "0.01", "PYPI_PUBLISH_RETRY_ATTEMPTS": "2"}


def unique_project() -> str:
    # One devpi serves the whole session: each test publishes a project of its own.
    return f"devpi-{uuid.uuid4().hex[:10]}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel(workspace: Path, project: str, flavour: str = "first build") -> Path:
    """`project` 1.0's wheel; another `flavour` gives a file of the same name with other bytes."""
    return write_wheel(workspace / "dist", project, "1.0",
                       metadata_text(project, "1.0", f"Keywords: {flavour.replace(' ', '-')}"))


@pytest.fixture(params=["volatile", "stable"])
def devpi_index(request: pytest.FixtureRequest, devpi: DevpiServer) -> DevpiIndex:
    chosen: DevpiIndex = getattr(devpi, request.param)
    return chosen


@pytest.fixture
def proxy(devpi: DevpiServer) -> Iterator[FaultProxy]:
    with FaultProxy(int(devpi.url.rsplit(":", 1)[1])) as fault_proxy:
        yield fault_proxy


@pytest.fixture(scope="module")
def login(devpi: DevpiServer) -> str:
    # A devpi login token works as the password and spares an argon2 check per request.
    return devpi.login_token()


def publish(run_action: RunAction, workspace: Path, url: str, devpi: DevpiServer, password: str,
            **inputs: str) -> Run:
    return run_action(workspace, {"repository-url": url, "user": devpi.user, "password": password,
                                  "verbose": "true", **inputs}, FAST)


def via(proxy: FaultProxy, index: DevpiIndex) -> str:
    return f"{proxy.url.rstrip('/')}/{index.name}/"


def test_first_upload_lands_and_the_listing_uses_devpis_simple_api(
    devpi: DevpiServer, devpi_index: DevpiIndex, login: str, run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    built = wheel(tmp_path, project)
    run = publish(run_action, tmp_path, devpi_index.upload_url, devpi, login)
    assert run.returncode == 0, run.text
    assert devpi.files(devpi_index, project) == {built.name: sha256(built)}
    kind = "volatile: an upload replaces" if devpi_index.volatile else "non-volatile: files are never"
    assert f"{devpi_index.project_simple_url(project)} (devpi (X-Devpi-* headers)" in run.stdout
    assert f"the index is {kind}" in run.stdout


def test_identical_rerun_sends_nothing_and_reports_the_file_present(
    devpi: DevpiServer, devpi_index: DevpiIndex, login: str, proxy: FaultProxy,
    run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    built = wheel(tmp_path, project)
    assert publish(run_action, tmp_path, via(proxy, devpi_index), devpi, login).returncode == 0
    sent = proxy.count("POST")
    run = publish(run_action, tmp_path, via(proxy, devpi_index), devpi, login)
    assert run.returncode == 0, run.text
    assert proxy.count("POST") == sent == 1
    assert f"Skipped {built.name}: identical file already on the index" in run.stdout
    assert (json.loads(run.outputs["uploaded"]), json.loads(run.outputs["skipped"])) == ([], [built.name])


def test_skip_existing_with_a_changed_file_keeps_the_indexs_file(
    devpi: DevpiServer, devpi_index: DevpiIndex, login: str, proxy: FaultProxy,
    run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    first = wheel(tmp_path / "one", project)
    assert publish(run_action, tmp_path / "one", devpi_index.upload_url, devpi, login).returncode == 0
    wheel(tmp_path / "two", project, "second build")
    run = publish(run_action, tmp_path / "two", via(proxy, devpi_index), devpi, login,
                  **{"skip-existing": "true"})
    assert run.returncode == 0, run.text
    assert proxy.count("POST") == 0
    assert f"`{first.name}` is on the index with different content (SHA-256 differs)" in run.stdout
    assert devpi.files(devpi_index, project) == {first.name: sha256(first)}


def test_skip_existing_with_a_changed_file_keeps_pypiservers_file(
    index: IndexServer, run_action: RunAction, tmp_path: Path
) -> None:
    first = wheel(tmp_path / "one", "sample-project")
    env = {"PYPI_API_TOKEN": index.password, **FAST}
    assert run_action(tmp_path / "one", {"repository-url": index.url}, env).returncode == 0
    wheel(tmp_path / "two", "sample-project", "second build")
    run = run_action(tmp_path / "two", {"repository-url": index.url, "skip-existing": "true"}, env)
    assert run.returncode == 0, run.text
    assert index.file_bytes(first.name) == first.read_bytes()


def test_changed_file_without_skip_existing_is_never_sent(
    devpi: DevpiServer, devpi_index: DevpiIndex, login: str, proxy: FaultProxy,
    run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    first = wheel(tmp_path / "one", project)
    assert publish(run_action, tmp_path / "one", devpi_index.upload_url, devpi, login).returncode == 0
    wheel(tmp_path / "two", project, "second build")
    run = publish(run_action, tmp_path / "two", via(proxy, devpi_index), devpi, login)
    assert run.returncode == 1
    assert f"`{first.name}` already on the index with different content; nothing was uploaded." \
        in run.stdout
    assert proxy.count("POST") == 0
    assert devpi.files(devpi_index, project) == {first.name: sha256(first)}


def test_skip_existing_without_a_listing_sends_nothing_to_an_index_that_replaces(
    devpi: DevpiServer, login: str, proxy: FaultProxy, run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    first = wheel(tmp_path / "one", project)
    assert publish(run_action, tmp_path / "one", devpi.volatile.upload_url, devpi, login).returncode == 0
    wheel(tmp_path / "two", project, "second build")
    # The simple API the user named cannot be reached: the index's upload answers alone
    # cannot protect the file, since a volatile index answers a replacing upload with 200.
    run = publish(run_action, tmp_path / "two", via(proxy, devpi.volatile), devpi, login,
                  **{"skip-existing": "true",
                     "index-url": f"http://127.0.0.1:{free_port()}/simple/"})
    assert run.returncode == 1
    assert "`skip-existing: true` cannot be honoured safely: the index could not list" in run.stdout
    assert "Set `index-url` to the index's simple API" in run.stdout
    assert proxy.count("POST") == 0
    assert devpi.files(devpi.volatile, project) == {first.name: sha256(first)}


def test_wrong_password_is_called_a_bad_password_not_a_bad_token(
    devpi: DevpiServer, devpi_index: DevpiIndex, run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    wheel(tmp_path, project)
    run = publish(run_action, tmp_path, devpi_index.upload_url, devpi, new_secret("devpi-"))
    assert run.returncode == 1
    # Pyramid's page around it ("This server could not verify that you are authorized …") is
    # boilerplate: the reason shown is the status's.
    assert "(HTTP 401, bad user name or password): Unauthorized\n" in run.stdout.replace("%0A", "\n")
    assert "could not verify" not in run.stdout
    assert (f"devpi did not accept the password of the user `{devpi.user}` from input "
            "`password`") in run.stdout
    assert "token" not in run.stdout.split("::error", 1)[1].lower()
    assert devpi.files(devpi_index, project) == {}


def test_wrong_password_from_the_command_names_twine_password(
    devpi: DevpiServer, run_cli: RunCli, tmp_path: Path
) -> None:
    wheel(tmp_path, unique_project())
    run = run_cli(["--skip-build", "--repository-url", devpi.stable.upload_url], tmp_path,
                  {"TWINE_USERNAME": devpi.user, "TWINE_PASSWORD": new_secret("devpi-"), **FAST})
    assert run.returncode == 1
    assert (f"devpi did not accept the password of the user `{devpi.user}` from `TWINE_PASSWORD`: "
            "check the user name (`TWINE_USERNAME`) and the password.") in run.stdout


def test_token_user_on_devpi_says_devpi_wants_its_own_user_name(
    devpi: DevpiServer, login: str, run_action: RunAction, tmp_path: Path
) -> None:
    wheel(tmp_path, unique_project())
    run = run_action(tmp_path, {"repository-url": devpi.stable.upload_url, "password": login}, FAST)
    assert run.returncode == 1
    assert "devpi logs in with a devpi user name and its password" in run.stdout
    assert "set `user` to the devpi user, and its password as input `password`." in run.stdout


def test_unknown_index_is_named_with_devpis_words(
    devpi: DevpiServer, login: str, run_action: RunAction, tmp_path: Path
) -> None:
    wheel(tmp_path, unique_project())
    url = f"{devpi.url}/{devpi.user}/nosuch/"
    run = publish(run_action, tmp_path, url, devpi, login)
    assert run.returncode == 1
    assert f"(HTTP 404): The stage {devpi.user}/nosuch could not be found." in run.stdout
    assert ("devpi has no such index: check the user and index names in `repository-url` (devpi's "
            "upload URL is `<server>/<user>/<index>/`).") in run.stdout
    # The listing said why it knew nothing: the index config answered 404 too.
    assert f"{url} is no devpi index (The stage {devpi.user}/nosuch could not be found.)" in run.stdout


def test_simple_url_as_upload_url_is_caught_although_devpi_answers_200(
    devpi: DevpiServer, login: str, run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    first = wheel(tmp_path / "one", project)
    assert publish(run_action, tmp_path / "one", devpi.stable.upload_url, devpi, login).returncode == 0
    write_wheel(tmp_path / "two" / "dist", project, "2.0")
    # devpi answers a POST to an existing project's simple page with that page, storing nothing.
    url = devpi.stable.project_simple_url(project)
    run = publish(run_action, tmp_path / "two", url, devpi, login)
    assert run.returncode == 1
    assert (f"{url} is a download URL (where installers read the index), not its upload URL: the "
            "index stores nothing sent there (HTTP 200)") in run.stdout
    assert f"Set `repository-url` to the upload URL: {devpi.stable.upload_url}" in run.stdout
    assert devpi.files(devpi.stable, project) == {first.name: sha256(first)}


def test_simple_url_of_a_new_project_as_upload_url_names_the_upload_url(
    devpi: DevpiServer, login: str, run_action: RunAction, tmp_path: Path
) -> None:
    project = unique_project()
    wheel(tmp_path, project)
    url = devpi.stable.project_simple_url(project)
    run = publish(run_action, tmp_path, url, devpi, login)
    assert run.returncode == 1
    assert f"{url} is a download URL (where installers read the index)" in run.stdout
    assert "the index refused it (HTTP 404)" in run.stdout
    assert f"Set `repository-url` to the upload URL: {devpi.stable.upload_url}" in run.stdout
