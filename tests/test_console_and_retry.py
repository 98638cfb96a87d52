"""The workflow-command adapter and the retry policy, on their own."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import requests

from pypi_publish.gha import Console
from pypi_publish.http import Transient, Transport, retry, send
from pypi_publish.retry import RetryPolicy, parse_retry_after, policy_from_env
from tests.conftest import parse_output_file
from tests.support.secret_sweep import new_secret


def test_annotations_escape_newlines_and_property_separators() -> None:
    out = io.StringIO()
    console = Console(actions=True, out=out)
    console.error("line one\nline two: 100%", title="Bad, really: bad")
    assert out.getvalue() == "::error title=Bad%2C really%3A bad::line one%0Aline two: 100%25\n"


def test_plain_text_outside_actions() -> None:
    out = io.StringIO()
    console = Console(actions=False, out=out)
    console.warning("careful\nsecond line", title="Token")
    with console.group("Upload"):
        console.info("inside")
    assert out.getvalue() == "warning: Token: careful\n  second line\n== Upload\ninside\n"


def test_secret_is_masked_first_and_redacted_everywhere(tmp_path: Path) -> None:
    out = io.StringIO()
    secret = new_secret("pypi-")
    console = Console(actions=True, out=out, output_file=tmp_path / "out",
                      summary_file=tmp_path / "summary")
    console.add_secret(secret)
    console.info(f"token is {secret}")
    console.error(f"refused {secret}")
    console.set_output("value", f"x{secret}x")
    console.add_summary(f"| {secret} |")
    lines = out.getvalue().splitlines()
    assert lines[0] == f"::add-mask::{secret}"
    assert all(secret not in line for line in lines[1:])
    assert parse_output_file((tmp_path / "out").read_text()) == {"value": "x***x"}
    assert secret not in (tmp_path / "summary").read_text()


def test_outputs_survive_multiline_values(tmp_path: Path) -> None:
    console = Console(actions=True, out=io.StringIO(), output_file=tmp_path / "out")
    console.set_output("files", '["a.whl",\n"b.tar.gz"]')
    console.set_output("version", "1.0")
    assert parse_output_file((tmp_path / "out").read_text()) == {
        "files": '["a.whl",\n"b.tar.gz"]', "version": "1.0"}


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=1, max_delay=4, rand=lambda: 1.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 4]
    low = RetryPolicy(base_delay=1, max_delay=4, rand=lambda: 0.0)
    assert low.delay(3) == 2
    assert policy.delay(1, "3") == 3


def test_policy_knobs_from_environment_are_bounded() -> None:
    policy = policy_from_env({"PYPI_PUBLISH_RETRY_ATTEMPTS": "2", "PYPI_PUBLISH_READ_TIMEOUT": "-4",
                              "PYPI_PUBLISH_RETRY_BASE_DELAY": "nan?"})
    assert policy.attempts == 2
    assert policy.read_timeout == RetryPolicy().read_timeout
    assert policy.base_delay == RetryPolicy().base_delay


class _Flaky(BaseHTTPRequestHandler):
    answers: ClassVar[list[int]] = []
    seen = 0

    def do_GET(self) -> None:
        type(self).seen += 1
        status = self.answers.pop(0) if self.answers else 200
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def flaky_server(answers: list[int]) -> Iterator[tuple[str, type[_Flaky]]]:
    """A loopback server giving `answers` in turn, then 200s; yields its URL and its counter."""
    handler = type("Handler", (_Flaky,), {"answers": list(answers), "seen": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_transient_answers_are_retried_until_success() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(base_delay=0.01, sleep=sleeps.append)
    with flaky_server([503, 429, 502]) as (url, handler), Transport({}) as transport:
        answer = retry(lambda: send(lambda: transport.session.get(url, timeout=5)), policy)
    assert isinstance(answer, requests.Response) and answer.status_code == 200
    assert handler.seen == 4
    assert len(sleeps) == 3


def test_client_errors_are_not_retried() -> None:
    policy = RetryPolicy(base_delay=0.01, sleep=lambda _: None)
    with flaky_server([404]) as (url, handler):
        answer = retry(lambda: send(lambda: requests.get(url, timeout=5)), policy)
    assert isinstance(answer, requests.Response) and answer.status_code == 404
    assert handler.seen == 1


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.01, sleep=lambda _: None)
    with flaky_server([503] * 10) as (url, handler):
        answer = retry(lambda: send(lambda: requests.get(url, timeout=5)), policy)
    assert isinstance(answer, Transient) and answer.response is not None
    assert answer.response.status_code == 503
    assert handler.seen == 3


def test_every_thread_gets_its_own_session_on_one_pool() -> None:
    with flaky_server([]) as (url, _), Transport({}) as transport:
        sessions: list[requests.Session] = []

        def use() -> None:
            sessions.append(transport.session)
            transport.session.get(url, timeout=5).close()

        threads = [threading.Thread(target=use) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert len({id(s) for s in sessions}) == 3
        # The connections live in the one adapter they share.
        adapters = {id(s.get_adapter(url)) for s in sessions}
        assert len(adapters) == 1
