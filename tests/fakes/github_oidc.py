"""A GitHub Actions-style ID token endpoint: checks the request token, signs RS256 JWTs."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.loopback_http import LoopbackHttp, send_json
from tests.support.secret_sweep import new_secret, remember_secret

ISSUER = "https://token.actions.githubusercontent.com"


@dataclass
class Workflow:
    """The run the token describes; change fields to make a token the index will refuse."""

    repository: str = "octo-org/sample-project"
    repository_id: str = "4242"
    repository_owner_id: str = "9001"
    workflow_file: str = "publish.yml"
    ref: str = "refs/tags/v1.2.3"
    environment: str | None = "pypi"
    event_name: str = "push"
    # A reusable workflow's file: job_workflow_ref then names it, workflow_ref the caller.
    reusable_workflow: str | None = None

    def claims(self, audience: str, now: float, lifetime: int) -> dict[str, Any]:
        owner = self.repository.split("/")[0]
        workflow_ref = f"{self.repository}/.github/workflows/{self.workflow_file}@{self.ref}"
        job_ref = (f"{self.reusable_workflow}@{self.ref}" if self.reusable_workflow
                   else workflow_ref)
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": audience, "sub": f"repo:{self.repository}:ref:{self.ref}",
            "iat": int(now), "nbf": int(now) - 5, "exp": int(now) + lifetime,
            "jti": str(uuid.uuid4()),
            "repository": self.repository, "repository_id": self.repository_id,
            "repository_owner": owner, "repository_owner_id": self.repository_owner_id,
            "repository_visibility": "public", "actor": "octocat", "actor_id": "1",
            "workflow": "publish", "workflow_ref": workflow_ref, "workflow_sha": "a" * 40,
            "job_workflow_ref": job_ref, "job_workflow_sha": "a" * 40,
            "ref": self.ref, "ref_type": "tag", "ref_protected": "false", "sha": "a" * 40,
            "event_name": self.event_name, "run_id": "77", "run_number": "7",
            "run_attempt": "1", "runner_environment": "github-hosted",
            "head_ref": "", "base_ref": "",
        }
        if self.environment is not None:
            claims["environment"] = self.environment
        return claims


@dataclass
class GitHubOidc:
    """Serves `GET /token?audience=…` to callers with `Authorization: bearer <request_token>`."""

    workflow: Workflow = field(default_factory=Workflow)
    lifetime: int = 300
    request_token: str = field(default_factory=lambda: new_secret("ghrt-"))
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    issued: int = 0
    refused: int = 0
    fail_next: int = 0  # answer this many requests with 503 first
    issuer: str = ISSUER

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(get=self._answer)

    @property
    def request_url(self) -> str:
        # The runner's URL already carries a query string; clients append `&audience=`.
        return f"{self.http.root}/token?api-version=2.0"

    def env(self) -> dict[str, str]:
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": self.request_url,
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token}

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        auth = handler.headers.get("Authorization", "")
        if self.fail_next > 0:
            self.fail_next -= 1
            send_json(handler, 503, {"message": "try again"})
            return
        scheme, _, presented = auth.partition(" ")
        if scheme.lower() != "bearer" or presented != self.request_token:
            self.refused += 1
            send_json(handler, 401, {"message": "Bad credentials"})
            return
        audience = query.get("audience", [""])[0]
        if not audience:
            send_json(handler, 400, {"message": "audience required"})
            return
        claims = self.workflow.claims(audience, time.time(), self.lifetime)
        claims["iss"] = self.issuer
        token = remember_secret(jwt.encode(claims, self.key, algorithm="RS256",
                                           headers={"kid": "test-key"}))
        self.issued += 1
        send_json(handler, 200, {"count": 1, "value": token})

    def __enter__(self) -> GitHubOidc:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()
