"""The secrets sweep fails a leaking test, and only a leaking one, without repeating the secret.

Each case runs a small test file in its own pytest process with the sweep plugin loaded. The
secret is made here with `new_secret`, so this session's sweep would also fail *this* test if the
inner run's report (which pytester echoes into our output) ever showed the secret itself.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import REPO
from tests.support.secret_sweep import leaks, new_secret

pytest_plugins = ["pytester"]


def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, body: str,
              secret: str) -> pytest.RunResult:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    source = textwrap.dedent("""\
        import logging
        import sys
        from pathlib import Path

        from tests.support.secret_sweep import remember_secret, sweep_file

        SECRET = remember_secret({secret!r})

    """).format(secret=secret) + textwrap.dedent(body)
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest_subprocess("-p", "tests.support.secret_sweep", "-p", "no:cacheprovider",
                                         "--show-capture=no", "-q")


def failed_tests(result: pytest.RunResult) -> set[str]:
    """Names of the inner tests reported FAILED or ERROR (a leak may be reported at each phase)."""
    names = set()
    for line in result.stdout.lines:
        if line.startswith(("FAILED test_inner.py::", "ERROR test_inner.py::")):
            names.add(line.split("::", 1)[1].split(" ", 1)[0])
    return names


@pytest.fixture
def secret() -> str:
    return new_secret("pypi-")


def test_a_secret_printed_to_stdout_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_leaks():
            print(f"uploading with {SECRET}")
    """, secret)
    assert failed_tests(result) == {"test_leaks"}
    result.stdout.fnmatch_lines(["*a generated secret leaked into Captured stdout call:*",
                                 "*uploading with <SECRET>*"])


def test_a_secret_on_stderr_or_in_a_log_record_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_stderr():
            sys.stderr.write(f"token={SECRET}\\n")

        def test_log():
            logging.getLogger("x").warning("token=%s", SECRET)
    """, secret)
    assert failed_tests(result) == {"test_stderr", "test_log"}
    result.stdout.fnmatch_lines(["*leaked into Captured stderr call*"])
    result.stdout.fnmatch_lines(["*leaked into Captured log call*"])


def test_a_secret_in_setup_output_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        import pytest

        @pytest.fixture
        def noisy():
            print("fixture says", SECRET)

        def test_uses_noisy(noisy):
            pass
    """, secret)
    assert failed_tests(result) == {"test_uses_noisy"}
    result.stdout.fnmatch_lines(["*leaked into Captured stdout setup*"])


def test_a_secret_in_a_swept_file_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_summary(tmp_path):
            summary = sweep_file(tmp_path / "summary.md")
            summary.write_text(f"| token | {SECRET} |\\n")
    """, secret)
    assert failed_tests(result) == {"test_summary"}
    result.stdout.fnmatch_lines(["*leaked into */summary.md*", "*| token | <SECRET> |*"])


def test_a_failing_assertion_that_shows_the_secret_is_redacted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_compares():
            output = "token: " + SECRET
            assert output == "token: ***"
    """, secret)
    assert failed_tests(result) == {"test_compares"}
    result.stdout.fnmatch_lines(["*leaked into the failure report*"])
    # Our own session's sweep fails this test if the inner report echoed the secret.
    assert leaks(result.stdout.str(), [secret]) == []


def test_the_mask_command_is_the_one_place_a_secret_may_appear(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_masks():
            print(f"::add-mask::{SECRET}")
            print("uploading with ***")
    """, secret)
    result.assert_outcomes(passed=1)


def test_a_line_with_the_mask_and_the_bare_secret_still_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_masks_then_leaks():
            print(f"::add-mask::{SECRET} then {SECRET}")
    """, secret)
    assert failed_tests(result) == {"test_masks_then_leaks"}


def test_clean_tests_pass(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                          secret: str) -> None:
    result = run_inner(pytester, monkeypatch, """
        def test_quiet():
            print("nothing to see")

        def test_secret_used_but_not_shown():
            assert len(SECRET) > 20
    """, secret)
    result.assert_outcomes(passed=2)


def test_leaks_reports_only_lines_with_a_bare_secret(secret: str) -> None:
    text = f"ok\n::add-mask::{secret}\nbad {secret}\n"
    assert leaks(text, [secret]) == [f"bad {secret}"]
