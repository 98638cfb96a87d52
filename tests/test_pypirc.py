"""`.pypirc` as twine reads it: sections, `[server-login]`, the built-in indexes, twine's precedence
(flags > `TWINE_*` > the file > the keyring), the messages for a missing section or file, and
the password never shown.

The file is the test's own `~/.pypirc` (HOME is a temporary directory); the index is the real
pypiserver.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from pypi_publish.pypirc import read_sections
from tests.conftest import REPO, BuiltDists, Run, RunCli
from tests.support.index_server import IndexServer
from tests.support.secret_sweep import new_secret

FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]


def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    shutil.copytree(built_dists(), tmp_path / "ws" / "dist")
    return tmp_path / "ws"


def write_pypirc(tmp_path: Path, text: str, name: str = ".pypirc") -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    path = home / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def internal(index: IndexServer, password: str | None = None, username: str = "__token__",
             servers: str = "internal") -> str:
    return f"""\
        [distutils]
        index-servers =
            {servers.replace(' ', chr(10) + '            ')}

        [internal]
        repository = {index.url}
        username = {username}
        password = {index.password if password is None else password}
        """


def publish(run_cli: RunCli, root: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_cli(["--skip-build", *args], root, env or {})


def test_repository_names_a_pypirc_section_that_publishes(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 0, run.text
    assert index.files() == FILES
    assert "Using `password` in `~/.pypirc` [internal] as `__token__`." in run.stdout


def test_repository_flag_wins_over_twine_repository(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  env={"TWINE_REPOSITORY": "elsewhere"})
    assert run.returncode == 0, run.text
    assert index.files() == FILES


def test_twine_repository_picks_the_section_when_no_flag_does(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index))
    run = publish(run_cli, workspace(built_dists, tmp_path), env={"TWINE_REPOSITORY": "internal"})
    assert run.returncode == 0, run.text
    assert index.files() == FILES


def test_twine_password_wins_over_the_pypirc_password(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index, password=new_secret("pypi-")))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  env={"TWINE_PASSWORD": index.password})
    assert run.returncode == 0, run.text
    assert "Using `TWINE_PASSWORD` as `__token__`." in run.stdout


def test_twine_username_wins_over_the_pypirc_username(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index, username="someone-else"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  env={"TWINE_USERNAME": index.user})
    assert run.returncode == 0, run.text
    assert index.files() == FILES


def test_pypirc_username_is_used_without_twine_username(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index, username="someone-else"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 1
    assert index.files() == []
    assert "`someone-else`" in run.stdout


def test_repository_url_uses_no_pypirc_credentials(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    # twine: a repository URL replaces the whole section, its credentials included.
    write_pypirc(tmp_path, internal(index, servers="pypi internal").replace(
        "[internal]", "[pypi]\n        password = " + index.password + "\n\n        [internal]"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  "--repository-url", index.url)
    assert run.returncode == 1
    assert "No credentials" in run.stdout
    assert "`--repository internal` is not used: `--repository-url` is set" in run.stdout
    assert index.files() == []


def test_twine_repository_url_wins_over_the_repository_flag_as_in_twine(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index).replace(index.url, "https://pypi.invalid/legacy/"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  env={"TWINE_REPOSITORY_URL": index.url, "TWINE_PASSWORD": index.password})
    assert run.returncode == 0, run.text
    assert index.files() == FILES
    assert "`--repository internal` is not used: `TWINE_REPOSITORY_URL` is set" in run.stdout


def test_server_login_gives_a_listed_section_its_credentials(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, f"""\
        [distutils]
        index-servers = internal

        [server-login]
        username = __token__
        password = {index.password}

        [internal]
        repository = {index.url}
        """)
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 0, run.text
    assert index.files() == FILES


def test_a_pypi_section_not_listed_in_index_servers_is_not_read(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index) + f"""\

        [pypi]
        repository = {index.url}
        """)
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "pypi", "--dry-run")
    assert run.returncode == 0, run.text
    assert "would upload 2 file(s) to https://upload.pypi.org/legacy/" in run.stdout


def test_missing_section_lists_the_sections_found(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index, servers="internal mirror"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "staging")
    assert run.returncode == 2
    assert ("`~/.pypirc` has no section [staging] for `--repository staging` (sections found: "
            "`pypi`, `internal`, `mirror`).") in run.stdout
    assert "list it in `[distutils] index-servers`" in run.stdout


def test_a_section_left_out_of_index_servers_is_named_as_such(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index, servers="pypi"))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 2
    assert ("`~/.pypirc` has a section [internal], but it is not listed in `[distutils] "
            "index-servers`, so it is not read") in run.stdout
    assert "Add `internal` to `index-servers`" in run.stdout


def test_without_a_pypirc_only_the_built_in_indexes_are_known(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    run = publish(run_cli, workspace(built_dists, tmp_path), env={"TWINE_REPOSITORY": "internal"})
    assert run.returncode == 2
    assert ("`TWINE_REPOSITORY` (`internal`) names an index that is not configured: `~/.pypirc` "
            "does not exist, so only the built-in `pypi`, `testpypi` are known.") in run.stdout


def test_a_config_file_that_does_not_exist_is_an_error(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    run = publish(run_cli, workspace(built_dists, tmp_path), "--config-file",
                  str(tmp_path / "nowhere.pypirc"))
    assert run.returncode == 2
    assert f"The configuration file `{tmp_path / 'nowhere.pypirc'}` does not exist." in run.stdout


def test_config_file_chooses_another_file(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    other = write_pypirc(tmp_path, internal(index), name="team.pypirc")
    run = publish(run_cli, workspace(built_dists, tmp_path), "--config-file", str(other),
                  "--repository", "internal")
    assert run.returncode == 0, run.text
    assert index.files() == FILES


def test_pypirc_password_never_appears_in_any_stream(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    wrong = new_secret("pypi-")
    write_pypirc(tmp_path, internal(index, password=wrong))
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  "--verbose")
    assert run.returncode == 1
    assert index.files() == []
    assert wrong not in run.text
    assert "`password` in `~/.pypirc` [internal]" in run.stdout  # where it came from, not what


def test_a_malformed_pypirc_is_refused_without_quoting_it(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    secret = new_secret("pypi-")
    write_pypirc(tmp_path, f"password = {secret}\n[internal\n")  # configparser would quote line 1
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 2
    assert "`~/.pypirc` is not a valid `.pypirc` file." in run.stdout
    assert secret not in run.text


def test_a_certificate_setting_twine_reads_is_named_as_ignored(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index).rstrip() + "\n        ca_cert = /etc/ssl/internal-ca.pem\n")
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal")
    assert run.returncode == 0, run.text
    assert ("`~/.pypirc` [internal] sets `ca_cert`, which pypi-publish does not read: point "
            "`REQUESTS_CA_BUNDLE`") in run.stdout


def test_the_keyring_supplies_a_password_the_file_leaves_out(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli, tmp_path: Path
) -> None:
    write_pypirc(tmp_path, internal(index).replace(f"password = {index.password}", ""))
    entry = tmp_path / "keyring.json"
    entry.write_text(json.dumps({"service": index.url, "username": index.user,
                                 "password": index.password}), encoding="utf-8")
    run = publish(run_cli, workspace(built_dists, tmp_path), "--repository", "internal",
                  env={"PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring",
                       "PYTHONPATH": str(REPO), "TEST_KEYRING_FILE": str(entry)})
    assert run.returncode == 0, run.text
    assert index.files() == FILES
    assert "Using the system keyring as `__token__`." in run.stdout


TWINE_CASES = {
    "no distutils section": """\
        [pypi]
        username = __token__
        password = {secret}
        """,
    "server-login defaults": """\
        [distutils]
        index-servers = internal testpypi

        [server-login]
        username = fallback-user
        password = {secret}

        [internal]
        repository = http://127.0.0.1:1/
        username = own-user
        """,
    "pypi not listed": """\
        [distutils]
        index-servers = internal

        [internal]
        repository = http://127.0.0.1:1/

        [pypi]
        repository = http://127.0.0.1:2/
        password = {secret}
        """,
    "testpypi listed without a section": """\
        [distutils]
        index-servers =
            pypi
            testpypi
        """,
    "a listed section overrides the built-in URL": """\
        [distutils]
        index-servers = testpypi

        [testpypi]
        repository = http://127.0.0.1:3/
        password = {secret}
        """,
}


@pytest.mark.parametrize("case", sorted(TWINE_CASES))
def test_sections_read_as_twine_reads_them(case: str, tmp_path: Path) -> None:
    from twine.utils import get_config

    path = write_pypirc(tmp_path, TWINE_CASES[case].format(secret=new_secret("pypi-")))
    ours = read_sections(str(path), {"HOME": str(tmp_path / "home")})
    theirs = get_config(str(path))
    assert {name: (s.repository, s.username, s.password) for name, s in ours.items()} == \
        {name: (c.get("repository"), c.get("username"), c.get("password")) for name, c in theirs.items()}
