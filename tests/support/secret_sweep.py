"""A pytest plugin that fails any test whose captured output holds a secret the tests generated.

Secrets are made with `new_secret`, which remembers them; after each test phase every captured
stream (stdout, stderr, log, the failure text) and every file registered with `sweep_file` is
searched. A secret may appear only inside an `::add-mask::` command, which is how it gets masked.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Generator, Iterable
from pathlib import Path

import pytest

_GENERATED: set[str] = set()
_FILES: list[Path] = []


def new_secret(prefix: str = "", nbytes: int = 24) -> str:
    value = prefix + _secrets.token_urlsafe(nbytes)
    _GENERATED.add(value)
    return value


def remember_secret(value: str) -> str:
    """Sweep for a secret made elsewhere (a minted upload token, a signed JWT)."""
    if len(value) >= 8:
        _GENERATED.add(value)
    return value


def sweep_file(path: Path) -> Path:
    _FILES.append(path)
    return path


def leaks(text: str, secrets: Iterable[str] | None = None) -> list[str]:
    """Lines of `text` that contain a generated secret outside an `::add-mask::` command."""
    wanted = list(_GENERATED if secrets is None else secrets)
    found = []
    for line in text.splitlines():
        if not any(s in line for s in wanted):
            continue
        # The one allowed place: the mask command itself (also when quoted inside a repr).
        stripped = line
        for secret in wanted:
            stripped = stripped.replace(f"::add-mask::{secret}", "")
        if any(s in stripped for s in wanted):
            found.append(line)
    return found


def _describe(source: str, lines: list[str]) -> str:
    redacted = []
    for line in lines:
        for secret in _GENERATED:
            line = line.replace(secret, "<SECRET>")
        redacted.append(line)
    return f"a generated secret leaked into {source}:\n  " + "\n  ".join(redacted[:5])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    found: list[str] = []
    for name, content in report.sections:
        # Each phase's report repeats the earlier phases' output; judge only this phase's.
        if not name.endswith(f" {report.when}"):
            continue
        bad = leaks(content)
        if bad:
            found.append(_describe(name, bad))
    if report.when == "teardown":
        for path in list(_FILES):
            if path.is_file():
                bad = leaks(path.read_text(encoding="utf-8", errors="replace"))
                if bad:
                    found.append(_describe(str(path), bad))
        _FILES.clear()
    if report.failed and report.longrepr is not None:
        bad = leaks(str(report.longrepr))
        if bad:
            # Never print the secret itself while reporting the leak.
            report.longrepr = _describe("the failure report", bad)
    if found:
        report.outcome = "failed"
        report.longrepr = "\n".join(found)
