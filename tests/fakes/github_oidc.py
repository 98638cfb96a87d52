"""A GitHub Actions-style ID token endpoint: checks the request token, signs RS256 JWTs.

The runner hands a job `ACTIONS_ID_TOKEN_REQUEST_URL` (already carrying a query string) and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`; a client asks `GET <url>&audience=<aud>` with
`Authorization: bearer <request token>` and gets `{"count": …, "value": "<JWT>"}`. The JWT carries
GitHub's claim set for the run described by `Workflow`.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.loopback_http import LoopbackHttp, send, send_json
from tests.support.secret_sweep import new_secret, remember_secret

ISSUER = "https://token.actions.githubusercontent.com"
KEY_ID = "github-actions-test-key"
SHA = "5e3d1f0c9b8a7e6d5c4b3a29180716f5e4d3c2b1"


def answer_in_one_go(handler: BaseHTTPRequestHandler) -> None:
    """Send an answer's headers and body without waiting for an ACK in between, as production
    servers do; otherwise Nagle and the client's delayed ACK add 40 ms to kept-alive requests."""
    handler.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class Workflow:
    """The run a token describes; change fields to make a token the index will refuse."""

    repository: str = "octo-org/sample-project"
    repository_id: str = "4242"
    repository_owner_id: str = "9001"
    workflow_file: str = "publish.yml"
    ref: str = "refs/tags/v1.2.3"
    environment: str | None = "pypi"
    event_name: str = "push"
    actor: str = "octocat"
    # A reusable workflow (`owner/repo/.github/workflows/x.yml@ref`): `job_workflow_ref` names
    # it, `workflow_ref` the caller.
    reusable_workflow: str | None = None

    @property
    def workflow_ref(self) -> str:
        return f"{self.repository}/.github/workflows/{self.workflow_file}@{self.ref}"

    @property
    def job_workflow_ref(self) -> str:
        return self.reusable_workflow or self.workflow_ref

    @property
    def subject(self) -> str:
        # GitHub's default `sub`: the environment wins, then pull requests, then the ref.
        if self.environment is not None:
            return f"repo:{self.repository}:environment:{self.environment}"
        if self.event_name.startswith("pull_request"):
            return f"repo:{self.repository}:pull_request"
        return f"repo:{self.repository}:ref:{self.ref}"

    def claims(self, audience: str, now: float, lifetime: int) -> dict[str, Any]:
        pull_request = self.event_name.startswith("pull_request")
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "sub": self.subject,
            "aud": audience,
            "ref": self.ref,
            "sha": SHA,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "repository_owner_id": self.repository_owner_id,
            "run_id": "7712345678",
            "run_number": "42",
            "run_attempt": "1",
            "repository_visibility": "public",
            "repository_id": self.repository_id,
            "actor_id": "583231",
            "actor": self.actor,
            "workflow": "publish",
            "head_ref": "feature" if pull_request else "",
            "base_ref": "main" if pull_request else "",
            "event_name": self.event_name,
            "ref_protected": "false",
            "ref_type": "tag" if self.ref.startswith("refs/tags/") else "branch",
            "workflow_ref": self.workflow_ref,
            "workflow_sha": SHA,
            "job_workflow_ref": self.job_workflow_ref,
            "job_workflow_sha": SHA,
            "runner_environment": "github-hosted",
            "iss": ISSUER,
            "nbf": int(now) - 5,
            "exp": int(now) + lifetime,
            "iat": int(now),
        }
        if self.environment is not None:
            claims["environment"] = self.environment
        return claims


@dataclass
class GitHubOidc:
    """Serves `GET /token?api-version=2.0&audience=…` to callers with the job's request token."""

    workflow: Workflow = field(default_factory=Workflow)
    lifetime: int = 300
    request_token: str = field(default_factory=lambda: new_secret("ghrt-"))
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    key_id: str = KEY_ID
    issuer: str = ISSUER
    fail_next: int = 0  # answer this many requests with 503 first
    retry_after: str | None = None  # the `Retry-After` of those 503s
    repeat_token: bool = False  # hand out the first token again and again (a broken cache)
    issued: int = 0
    refused: int = 0
    audiences: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # every JWT handed out, in order

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(get=self._answer)
        self._lock = threading.Lock()
        self._first: str | None = None

    @property
    def request_url(self) -> str:
        # The runner's URL already carries a query string; clients append `&audience=`.
        return f"{self.http.root}/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token}

    def token(self, audience: str) -> str:
        """Sign a token for `audience` now, as the endpoint would hand it out."""
        claims = self.workflow.claims(audience, time.time(), self.lifetime)
        claims["iss"] = self.issuer
        return remember_secret(jwt.encode(claims, self.key, algorithm="RS256",
                                          headers={"kid": self.key_id}))

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        answer_in_one_go(handler)
        url = urlsplit(handler.path)
        if url.path != "/token":
            send_json(handler, 404, {"message": "Not Found"})
            return
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                send(handler, 503, b'{"message": "Service Unavailable"}', "application/json",
                     headers={"Retry-After": self.retry_after} if self.retry_after else None)
                return
        scheme, _, presented = handler.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or presented != self.request_token:
            with self._lock:
                self.refused += 1
            send_json(handler, 401, {"message": "Bad credentials"})
            return
        audience = parse_qs(url.query).get("audience", [""])[0]
        if not audience:
            send_json(handler, 400, {"message": "audience is required"})
            return
        with self._lock:
            token = self._first if self.repeat_token and self._first else self.token(audience)
            self._first = self._first or token
            self.issued += 1
            self.audiences.append(audience)
            self.tokens.append(token)
        send_json(handler, 200, {"count": len(token), "value": token})

    def __enter__(self) -> GitHubOidc:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()
