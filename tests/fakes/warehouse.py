"""A PyPI-style Trusted Publishing front: verifies GitHub ID tokens as Warehouse does, mints
upload tokens, and passes uploads made with them on to a real pypiserver."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_oidc import ISSUER
from tests.support.index_server import IndexServer
from tests.support.loopback_http import LoopbackHttp, read_body, send, send_json
from tests.support.secret_sweep import new_secret

LEEWAY = 30  # seconds of clock skew Warehouse tolerates on exp/nbf/iat


@dataclass
class Publisher:
    """A Trusted Publisher as registered on the index (GitHub kind)."""

    repository: str = "octo-org/sample-project"
    repository_owner_id: str = "9001"
    workflow_file: str = "publish.yml"
    environment: str = ""  # empty: any environment

    def mismatch(self, claims: dict[str, Any]) -> str | None:
        if claims.get("repository") != self.repository:
            return "Check failed for required claim 'repository'"
        if claims.get("repository_owner_id") != self.repository_owner_id:
            return "Check failed for required claim 'repository_owner_id'"
        expected = f"{self.repository}/.github/workflows/{self.workflow_file}@"
        if not str(claims.get("job_workflow_ref", "")).startswith(expected):
            return "Check failed for required claim 'job_workflow_ref'"
        if self.environment and claims.get("environment", "").lower() != self.environment.lower():
            return "Check failed for optional claim 'environment'"
        return None


@dataclass
class Warehouse:
    """`/_/oidc/audience`, `/_/oidc/mint-token` and `/legacy/` in front of `index`."""

    index: IndexServer
    issuer_key: rsa.RSAPublicKey
    publisher: Publisher = field(default_factory=Publisher)
    audience: str = "pypi"
    mode: str = "enabled"  # "enabled", "disabled" (audience 403), "absent" (no TP routes: 404)
    pending_project_exists: bool = False  # answer invalid-pending-publisher
    mint_failures: int = 0  # answer this many mint requests with 503 first
    audience_failures: int = 0
    used_jti: set[str] = field(default_factory=set)
    minted: list[str] = field(default_factory=list)
    mint_requests: int = 0
    audience_requests: int = 0

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(get=self._get, post=self._post)

    @property
    def url(self) -> str:
        return self.http.root

    @property
    def upload_url(self) -> str:
        return self.url + "/legacy/"

    def files(self) -> list[str]:
        return self.index.files()

    # -- routes --------------------------------------------------------------------------------
    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/_/oidc/audience" and self.mode != "absent":
            self.audience_requests += 1
            if self.audience_failures > 0:
                self.audience_failures -= 1
                send_json(handler, 503, {"message": "Service Unavailable"})
            elif self.mode == "disabled":
                send_json(handler, 403, {"message": "Trusted publishing functionality not enabled"})
            else:
                send_json(handler, 200, {"audience": self.audience})
            return
        if handler.path.startswith("/simple/"):
            self._forward(handler, "GET", b"", {})
            return
        send_json(handler, 404, {"message": "Not Found"})

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        body = read_body(handler)
        if handler.path == "/_/oidc/mint-token" and self.mode != "absent":
            self.mint_requests += 1
            if self.mint_failures > 0:
                self.mint_failures -= 1
                send_json(handler, 503, {"message": "Service Unavailable"})
                return
            status, answer = self.mint(body)
            send_json(handler, status, answer)
            return
        if handler.path == "/legacy/":
            self._upload(handler, body)
            return
        send_json(handler, 404, {"message": "Not Found"})

    # -- Warehouse's checks, in Warehouse's order -------------------------------------------------
    def mint(self, body: bytes) -> tuple[int, dict[str, Any]]:
        def invalid(code: str, description: str) -> tuple[int, dict[str, Any]]:
            return 422, {"message": "Token request failed",
                         "errors": [{"code": code, "description": description}]}

        try:
            payload = json.loads(body)
            unverified = payload["token"]
            if not isinstance(unverified, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return invalid("invalid-payload", "1 validation error for TokenPayload")
        try:
            issuer = jwt.decode(unverified, options={"verify_signature": False})["iss"]
        except (jwt.PyJWTError, KeyError):
            return invalid("invalid-payload", "malformed JWT")
        if issuer != ISSUER:
            return invalid("invalid-payload", "unknown trusted publishing issuer")
        if self.mode == "not-enabled":
            return invalid("not-enabled", "GitHub trusted publishing functionality not enabled")
        try:
            claims = jwt.decode(
                unverified, self.issuer_key, algorithms=["RS256"], audience=self.audience,
                issuer=ISSUER, leeway=LEEWAY,
                options={"require": ["iss", "iat", "nbf", "exp", "aud", "jti"]},
            )
        except jwt.PyJWTError:
            return invalid("invalid-token", "malformed or invalid token")
        if self.pending_project_exists:
            return invalid("invalid-pending-publisher", "valid token, but project already exists")
        if claims["jti"] in self.used_jti:
            return invalid("invalid-reuse-token", "invalid token: already used")
        problem = self.publisher.mismatch(claims)
        if problem:
            return invalid("invalid-publisher", f"valid token, but no corresponding publisher ({problem})")
        self.used_jti.add(claims["jti"])
        token = new_secret("pypi-")
        self.minted.append(token)
        return 200, {"success": True, "token": token, "expires": int(time.time()) + 900}

    def _upload(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        import base64

        auth = handler.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            user, password = "", ""
        if user != "__token__" or password not in self.minted:
            send_json(handler, 403, {"message": "Invalid or non-existent authentication information."},
                       reason="Invalid or non-existent authentication information.")
            return
        self._forward(handler, "POST", body, {"Content-Type": handler.headers["Content-Type"]})

    def _forward(self, handler: BaseHTTPRequestHandler, method: str, body: bytes,
                 headers: dict[str, str]) -> None:
        path = "/" if method == "POST" else handler.path
        response = requests.request(
            method, self.index.url.rstrip("/") + path, data=body or None, headers=headers,
            auth=(self.index.user, self.index.password) if method == "POST" else None,
            timeout=30, allow_redirects=False,
        )
        send(handler, response.status_code, response.content,
             response.headers.get("Content-Type", "text/plain"), response.reason)

    def __enter__(self) -> Warehouse:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()
