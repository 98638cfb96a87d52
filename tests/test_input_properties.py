"""Property tests of everything that parses outside input: any text gives a value or a PublishError.

Inputs come from users (action inputs, CLI arguments), from the runner (environment), from files
(distribution names) and from servers (Retry-After, simple API pages, token-exchange answers).
None of them may raise anything but the product's own errors: an exception of another type is a
traceback in the user's log.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import urllib3.util
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from pypi_publish.action import INPUTS, read_inputs, run_attempt
from pypi_publish.cli import read_args
from pypi_publish.config import MAX_PARALLEL, Config, parse_parallel, version_from_tag
from pypi_publish.distribution import Distribution, parse_filename
from pypi_publish.errors import ConfigError, DistributionError, PublishError
from pypi_publish.index import make_index
from pypi_publish.listing import Listing, parse_simple_page
from pypi_publish.retry import parse_retry_after, policy_from_env
from pypi_publish.tp_diagnostics import explain_refusal
from pypi_publish.urls import check_index_url
from pypi_publish.wire import jwt_claims, mint_answer

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text as the runner can pass it in an environment variable: no NUL, anything else goes.
env_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
ODD_VALUES = st.sampled_from(["", " ", "true", "True", "FALSE", "yes", "0", "1", "²", "٣", "16", "17",
                              "-1", "1e3", "nan", "inf", "../..", "/", "v1.2.3", "refs/tags/v1",
                              "https://user:pw@host/", "http://127.0.0.1:1/", "pypi", "testpypi"])
value = st.one_of(env_text, ODD_VALUES)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("property-workspace")
    (path / "dist").mkdir()
    yield path


# -- user input ----------------------------------------------------------------------------------


@SETTINGS
@given(inputs=st.dictionaries(st.sampled_from(INPUTS), value, max_size=8),
       runner=st.dictionaries(st.sampled_from(["GITHUB_REF", "GITHUB_RUN_ATTEMPT", "PYPI_API_TOKEN",
                                               "GITHUB_ACTIONS"]), value, max_size=4))
@example(inputs={"parallel": "²"}, runner={})
@example(inputs={}, runner={"GITHUB_RUN_ATTEMPT": "²"})
def test_action_inputs_give_a_config_or_a_config_error(
    inputs: dict[str, str], runner: dict[str, str], workspace: Path
) -> None:
    env = {f"INPUT_{name.upper()}": text for name, text in inputs.items()}
    env.update(runner)
    env["GITHUB_WORKSPACE"] = str(workspace)
    try:
        config, context = read_inputs(env)
    except ConfigError as error:
        assert error.message and error.hint
        return
    assert isinstance(config, Config)
    assert 1 <= config.parallel <= MAX_PARALLEL
    assert context.run_attempt >= 1
    # Paths from action inputs never leave the workspace.
    for path in (config.packages_dir, config.project_dir):
        assert path == workspace.resolve() or workspace.resolve() in path.parents


FLAGS = ["--dry-run", "--no-upload", "--skip-build", "--repository", "--repository-url", "--tag",
         "--packages-dir", "--project-dir", "--skip-existing", "--no-verify-metadata", "--parallel",
         "--verbose", "--index-url", "--config-file", "-C", "--build-timeout", "--no-attestations",
         "--trusted-publishing"]


@SETTINGS
@given(argv=st.lists(st.one_of(st.sampled_from(FLAGS), value), max_size=8),
       env=st.dictionaries(st.sampled_from(["TWINE_PASSWORD", "TWINE_USERNAME", "PYPI_API_TOKEN",
                                            "GITHUB_RUN_ATTEMPT"]), value, max_size=3))
@example(argv=["--parallel", "²"], env={})
@example(argv=["--build-timeout", "²"], env={})
@example(argv=["-C", "=x"], env={})
def test_cli_arguments_give_a_config_or_a_config_error(argv: list[str], env: dict[str, str],
                                                       workspace: Path) -> None:
    # `--help` and `--version` (and their abbreviations) print and exit 0, which is right.
    assume(not any(arg.startswith(("-h", "--h", "--vers")) for arg in argv))
    # The keyring is asked only when nothing else gives a token: give one, keep it out of this.
    env = {"HOME": str(workspace), "TWINE_PASSWORD": "x", **env}
    try:
        config, _ = read_args(argv, env, cwd=workspace)
    except ConfigError as error:
        assert error.message and error.hint
        return
    assert isinstance(config, Config)
    assert 1 <= config.parallel <= MAX_PARALLEL


@SETTINGS
@given(raw=value)
@example(raw="²")
def test_parallel_is_a_small_number_or_a_config_error(raw: str) -> None:
    try:
        assert 1 <= parse_parallel(raw, "`parallel`", "Input `parallel`") <= MAX_PARALLEL
    except ConfigError as error:
        assert "Input `parallel`" in error.message


@SETTINGS
@given(raw=value)
@example(raw="²")
def test_run_attempt_is_a_positive_number_whatever_the_runner_says(raw: str) -> None:
    assert run_attempt({"GITHUB_RUN_ATTEMPT": raw}) >= 1


@SETTINGS
@given(tag=st.one_of(env_text, st.from_regex(r"\A(refs/tags/)?[a-z/@_-]{0,8}[vV]?\d{1,3}(\.\d{1,3}){0,3}"
                                             r"(rc\d)?\Z")))
def test_a_tag_gives_a_version_or_none(tag: str) -> None:
    result = version_from_tag(tag)
    assert result is None or isinstance(result, Version)


# -- URLs: the security property -------------------------------------------------------------------------

hosts = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "pypi.example.org", "evil.example",
                         "127.0.0.1.evil.example", "localhost.evil.example", "127.1", "[::ffff:127.0.0.1]",
                         "LOCALHOST", "0x7f000001", ""])
url_noise = st.text(st.sampled_from("\\@#?/:%.[] \t\r\nAa1"), max_size=6)
urls = st.one_of(
    env_text,
    st.builds(lambda scheme, user, host, noise, port, path: f"{scheme}://{user}{host}{noise}{port}{path}",
              st.sampled_from(["http", "https", "HTTP", "ftp", "file", ""]),
              st.sampled_from(["", "u@", "u:p@", ":@", "@", "__token__:pypi-x@"]),
              hosts, url_noise, st.sampled_from(["", ":8080", ":0", ":99999", ":x"]),
              st.sampled_from(["", "/", "/legacy/", "/a b/"])),
)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@SETTINGS
@given(url=urls)
@example(url="http://127.0.0.1\\@evil.example/")
@example(url="http://localhost#@evil.example/")
@example(url="https://user:pw@pypi.example.org/")
@example(url="http://evil.example\\.localhost/")
@example(url="HTTPS://\\")
@example(url="http://[::1]80/")
def test_an_accepted_upload_url_is_https_or_loopback_and_carries_no_credentials(url: str) -> None:
    try:
        accepted = check_index_url(url, "`repository-url`", "Input `repository-url`",
                                   "`password`")
    except ConfigError as error:
        # Never echo a URL that may hold a credential.
        assert ":p@" not in error.message and "pypi-x" not in error.message
        return
    parts = urlsplit(accepted)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert parts.username is None and parts.password is None
    if parts.scheme == "http":
        assert _loopback(parts.hostname)
    # The host the check approved is the host the HTTP client will connect to.
    client_view = urllib3.util.parse_url(accepted)
    assert (client_view.host or "").strip("[]").lower() == parts.hostname.lower()
    assert client_view.auth is None


# -- file names -------------------------------------------------------------------------------------------

dist_names = st.one_of(
    env_text,
    st.builds(lambda name, version, tail: f"{name}-{version}{tail}",
              st.from_regex(r"\A[A-Za-z0-9_.\-]{0,12}\Z"), st.from_regex(r"\A[0-9a-z.!+_\-]{0,10}\Z"),
              st.sampled_from([".tar.gz", ".zip", "-py3-none-any.whl", "-cp311-cp311-linux_x86_64.whl",
                               "-1-py3-none-any.whl", ".whl", ".egg", ".tar.bz2", ""])),
)


@SETTINGS
@given(name=dist_names)
@example(name="sample-1.0-extra-bits.whl")
def test_a_file_name_parses_or_gives_a_distribution_error(name: str) -> None:
    try:
        kind, project, version = parse_filename(name)
    except DistributionError as error:
        assert f"`{name}`" in error.message
        return
    assert kind in ("sdist", "wheel")
    assert project and isinstance(version, Version)


# -- server answers -----------------------------------------------------------------------------------------


@SETTINGS
@given(raw=st.one_of(st.text(max_size=40), st.sampled_from(["0", "7", "²", "٣", "-1", "1.5", "1e9",
                                                          "Wed, 21 Oct 2015 07:28:00 GMT", "nan"])))
@example(raw="²")
def test_retry_after_is_a_wait_or_none(raw: str) -> None:
    wait = parse_retry_after(raw)
    assert wait is None or wait >= 0


@SETTINGS
@given(env=st.dictionaries(st.sampled_from(["PYPI_PUBLISH_RETRY_ATTEMPTS", "PYPI_PUBLISH_RETRY_BASE_DELAY",
                                            "PYPI_PUBLISH_RETRY_MAX_DELAY", "PYPI_PUBLISH_READ_TIMEOUT",
                                            "PYPI_PUBLISH_CONNECT_TIMEOUT"]), value))
def test_retry_tuning_from_the_environment_is_always_bounded(env: dict[str, str]) -> None:
    policy = policy_from_env(env)
    assert 1 <= policy.attempts < 3600
    for seconds in (policy.base_delay, policy.max_delay, policy.read_timeout, policy.connect_timeout):
        assert 0 <= seconds < 3600


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["files", "filename", "hashes", "sha256",
                                                             "md5", "blake2b_256", "x"]), inner,
                                            max_size=4)),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Distribution:
    path = tmp_path_factory.mktemp("dist") / "sample_project-1.2.3-py3-none-any.whl"
    path.write_bytes(b"wheel bytes")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Distribution(path, "wheel", cast(Any, "sample-project"), Version("1.2.3"), 11, digest)


@SETTINGS
@given(document=json_values, html=st.text(max_size=80))
@example(document={"files": [{"filename": "sample_project-1.2.3-py3-none-any.whl",
                              "hashes": {"sha256": 5}}]}, html="")
@example(document={"files": [{"filename": "sample_project-1.2.3-py3-none-any.whl",
                              "hashes": [["sha256", None]]}]}, html="")
def test_any_simple_page_gives_a_listing_the_uploader_can_compare(
    document: object, html: str, dist: Distribution
) -> None:
    for content_type, body in (("application/vnd.pypi.simple.v1+json", json.dumps(document).encode()),
                               ("text/html", html.encode())):
        try:
            files = parse_simple_page(content_type, body)
        except (ValueError, TypeError, AttributeError):
            continue  # the caller turns these into "the index could not say"
        if files is None:
            continue  # not a simple page: "the index could not say"
        listing = Listing(True, files)
        assert listing.same_content(dist) in (True, False, None)


@SETTINGS
@given(answer=json_values, token=env_text)
@example(answer={"errors": 5}, token="")
@example(answer={"errors": [{"code": 5}], "message": None}, token="a.b.c")
def test_any_refusal_from_the_token_exchange_is_explained(answer: object, token: str) -> None:
    assume(isinstance(answer, dict))
    claims = jwt_claims(token)
    assert isinstance(claims, dict)
    error = explain_refusal(mint_answer(answer), claims, make_index("https://upload.pypi.org/legacy/"),
                            "sample-project")
    assert isinstance(error, PublishError)
    assert error.message and error.hint
