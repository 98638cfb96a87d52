"""A runner's side of a job for in-process Trusted Publishing exchanges: its variables, and one
call of `mint_upload_token` with what it returned, raised and printed (a pytest plugin)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pypi_publish.errors import TrustedPublishingError
from pypi_publish.gha import Console
from pypi_publish.http import Transport
from pypi_publish.identity import github_provider
from pypi_publish.index import make_index
from pypi_publish.retry import RetryPolicy
from pypi_publish.trusted_publishing import mint_upload_token
from pypi_publish.wording import ACTION
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.warehouse import Warehouse

CLAIMS = """\
The claims the index matched on:
- `repository`: `octo-org/sample-project`
- `repository_owner`: `octo-org`
- `repository_owner_id`: `9001`
- `job_workflow_ref`: `octo-org/sample-project/.github/workflows/publish.yml@refs/tags/v1.2.3`
- `workflow_ref`: `octo-org/sample-project/.github/workflows/publish.yml@refs/tags/v1.2.3`
- `ref`: `refs/tags/v1.2.3`
- `environment`: `pypi`
- `event_name`: `push`"""


@dataclass
class Exchange:
    """One call of `mint_upload_token`: what it returned or raised, and what it printed."""

    token: str | None
    error: TrustedPublishingError | None
    lines: list[str]
    waits: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def failure(self) -> TrustedPublishingError:
        assert self.error is not None, self.text
        return self.error


@dataclass
class Runner:
    """The runner's side of a job: its variables (also in `os.environ`, where `id` reads them)."""

    monkeypatch: pytest.MonkeyPatch
    github: GitHubOidc
    warehouse: Warehouse
    tmp_path: Path

    def set(self, **variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)

    def event(self, name: str, payload: dict[str, object]) -> None:
        path = self.tmp_path / "event.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        self.set(GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(path))

    def exchange(self, upload_url: str | None = None, project: str = "sample-project",
                 attempts: int = 4) -> Exchange:
        out = io.StringIO()
        waits: list[float] = []
        policy = RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05,
                             sleep=waits.append)
        token: str | None = None
        error: TrustedPublishingError | None = None
        env = dict(os.environ)
        provider = github_provider(env)
        with Transport(env) as transport:
            try:
                token = mint_upload_token(
                    make_index(upload_url or self.warehouse.upload_url), provider,
                    transport.session, policy, Console(actions=True, out=out), ACTION,
                    project).token
            except TrustedPublishingError as raised:
                error = raised
        # Through pytest's capture, so the secrets sweep reads what the product printed.
        sys.stdout.write(out.getvalue())
        if error is not None:
            sys.stdout.write(f"{error}\n")
        return Exchange(token, error, out.getvalue().splitlines(), waits)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, github_oidc: GitHubOidc, warehouse: Warehouse,
           tmp_path: Path) -> Iterator[Runner]:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "ACTIONS_", "RUNNER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/sample-project")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    for name, value in github_oidc.env().items():
        monkeypatch.setenv(name, value)
    yield Runner(monkeypatch, github_oidc, warehouse, tmp_path)
