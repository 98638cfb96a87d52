"""A PyPI-style Trusted Publishing front: verifies GitHub ID tokens the way Warehouse does, mints
upload tokens, and passes uploads made with them on to a real pypiserver.

The checks, their order, and the error codes and descriptions follow Warehouse's
`warehouse/oidc/views.py` (`mint_token_from_oidc`, `mint_token`), `oidc/services.py`
(`verify_jwt_signature`: RS256 with the issuer's key by `kid`, `iss`/`iat`/`exp`/`aud` required,
exact audience, 30 s leeway) and `oidc/models/github.py` (publisher lookup by repository, owner,
owner id and workflow file, environment preference, claim checks, single-use `jti`). One
simplification: Warehouse answers a replayed token that matches a *pending* publisher with an
internal error; this front answers `invalid-reuse-token` there too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_oidc import ISSUER, KEY_ID, answer_in_one_go
from tests.support.index_server import IndexServer
from tests.support.loopback_http import LoopbackHttp, read_body, send, send_json
from tests.support.secret_sweep import new_secret

if TYPE_CHECKING:  # it loads sigstore: only tests that attest pay for it
    from tests.fakes.attestation_check import AttestationCheck

LEEWAY = 30  # seconds of clock skew Warehouse tolerates on exp/nbf/iat
TOKEN_LIFETIME = 900
REQUIRED_CLAIMS = ("repository", "repository_owner", "repository_owner_id", "job_workflow_ref",
                   "jti", "event_name", "ref", "sha")
WORKFLOW_FILE = re.compile(r"[^/]+\.(yml|yaml)(?=@)")
HELP = "https://pypi.org/help/"
Answer = tuple[int, dict[str, Any]]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class InvalidPublisher(Exception):
    pass


class ReusedToken(Exception):
    pass


@dataclass
class Publisher:
    """A GitHub Trusted Publisher as registered on the index."""

    repository: str = "octo-org/sample-project"
    repository_owner_id: str = "9001"
    workflow_file: str = "publish.yml"
    environment: str = ""  # empty: any environment
    projects: set[str] = field(default_factory=lambda: {"sample-project"})

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]

    def verify(self, claims: dict[str, Any], used_jti: set[str]) -> None:
        """Warehouse's `verify_claims` for a GitHub publisher, in its order and words."""
        if str(claims["repository"]).lower() != self.repository.lower():
            raise InvalidPublisher("Check failed for required claim 'repository'")
        if claims["repository_owner"] != self.owner:
            raise InvalidPublisher("Check failed for required claim 'repository_owner'")
        if claims["repository_owner_id"] != self.repository_owner_id:
            raise InvalidPublisher("Check failed for required claim 'repository_owner_id'")
        job_workflow_ref = claims["job_workflow_ref"]
        if not job_workflow_ref:
            raise InvalidPublisher("The job_workflow_ref claim is empty")
        refs = [r for r in (claims.get("ref"), claims.get("sha")) if r]
        if not refs:
            raise InvalidPublisher("The ref and sha claims are empty")
        expected = {f"{self.repository}/.github/workflows/{self.workflow_file}@{r}" for r in refs}
        if job_workflow_ref not in expected:
            raise InvalidPublisher("The job_workflow_ref claim does not match, expecting one of "
                                   f"{sorted(expected)!r}, got {job_workflow_ref!r}")
        if claims["jti"] in used_jti:
            raise ReusedToken
        if claims["event_name"] == "pull_request_target":
            raise InvalidPublisher("Publishing from a workflow invoked via 'pull_request_target' "
                                   "is not supported.")
        environment = claims.get("environment")
        if self.environment and (not environment
                                 or str(environment).lower() != self.environment.lower()):
            raise InvalidPublisher("Check failed for optional claim 'environment'")


@dataclass
class PendingPublisher(Publisher):
    """A publisher registered for a project that does not exist yet."""

    project_name: str = "sample-project"


def find_publisher(publishers: list[Publisher] | list[PendingPublisher], claims: dict[str, Any],
                   used_jti: set[str]) -> Publisher:
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise InvalidPublisher(f"Missing claim {name!r}")
    owner, _, repository_name = str(claims["repository"]).partition("/")
    found = WORKFLOW_FILE.search(str(claims["job_workflow_ref"]))
    if not found:
        raise InvalidPublisher("Could not job extract workflow filename from OIDC claims")
    candidates = [p for p in publishers if p.name == repository_name and p.owner == owner
                  and p.repository_owner_id == claims["repository_owner_id"]
                  and p.workflow_file == found.group(0)]
    environment = claims.get("environment")
    chosen = None
    if environment:
        chosen = next((p for p in candidates if p.environment == str(environment).lower()), None)
    chosen = chosen or next((p for p in candidates if p.environment == ""), None)
    if chosen is None:
        raise InvalidPublisher("Publisher with matching claims was not found")
    chosen.verify(claims, used_jti)
    return chosen


@dataclass
class Minted:
    projects: set[str]
    expires: float
    publisher: Publisher | None = None  # the publisher the token was minted for


@dataclass
class Warehouse:
    """`/_/oidc/audience`, `/_/oidc/mint-token` and `/legacy/` in front of `index`."""

    index: IndexServer
    issuer_key: rsa.RSAPublicKey
    key_id: str = KEY_ID
    publishers: list[Publisher] = field(default_factory=lambda: [Publisher()])
    pending: list[PendingPublisher] = field(default_factory=list)
    existing_projects: set[str] = field(default_factory=lambda: {"sample-project"})
    audience: str = "pypi"
    # "enabled"; "disabled": Trusted Publishing switched off (audience 403); "not-enabled": only
    # the GitHub issuer switched off (422 `not-enabled`); "absent": no such routes (404).
    mode: str = "enabled"
    audience_failures: int = 0  # answer this many audience requests with 503 first
    mint_failures: int = 0  # answer this many mint requests with 503 first
    used_jti: set[str] = field(default_factory=set)
    minted: list[str] = field(default_factory=list)
    audience_requests: int = 0
    mint_requests: int = 0
    connections: set[int] = field(default_factory=set)  # client ports seen on the OIDC routes
    upload_connections: list[int] = field(default_factory=list)  # client port of each upload
    attestations: AttestationCheck | None = None  # checks uploads' attestations; None: refuse

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(get=self._get, post=self._post)
        self._lock = threading.Lock()
        self._tokens: dict[str, Minted] = {}

    @property
    def url(self) -> str:
        return self.http.root

    @property
    def upload_url(self) -> str:
        return self.url + "/legacy/"

    @property
    def publisher(self) -> Publisher:
        return self.publishers[0]

    def files(self) -> list[str]:
        return self.index.files()

    # -- routes ------------------------------------------------------------------------------------
    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        answer_in_one_go(handler)
        if handler.path == "/_/oidc/audience" and self.mode != "absent":
            with self._lock:
                self.audience_requests += 1
                self.connections.add(handler.client_address[1])
                failing = self.audience_failures > 0
                self.audience_failures -= 1 if failing else 0
            if failing:
                send_json(handler, 503, {"message": "Service Unavailable"})
            elif self.mode == "disabled":
                send_json(handler, 403, {"message": "Trusted publishing functionality not enabled"})
            else:
                send_json(handler, 200, {"audience": self.audience})
            return
        if handler.path.startswith("/simple/"):
            self._forward(handler, "GET", b"", {})
            return
        send(handler, 404, b"<html><body>404 Not Found</body></html>", "text/html")

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        answer_in_one_go(handler)
        body = read_body(handler)
        if handler.path == "/_/oidc/mint-token" and self.mode != "absent":
            with self._lock:
                self.mint_requests += 1
                self.connections.add(handler.client_address[1])
                failing = self.mint_failures > 0
                self.mint_failures -= 1 if failing else 0
            if failing:
                send_json(handler, 503, {"message": "Service Unavailable"})
                return
            status, answer = self.mint(body)
            send_json(handler, status, answer)
            return
        if handler.path == "/legacy/":
            self._upload(handler, body)
            return
        send(handler, 404, b"<html><body>404 Not Found</body></html>", "text/html")

    # -- Warehouse's checks, in Warehouse's order ------------------------------------------------------
    def mint(self, body: bytes) -> Answer:
        def invalid(code: str, description: str) -> Answer:
            return 422, {"message": "Token request failed",
                         "errors": [{"code": code, "description": description}]}

        try:
            payload = json.loads(body)
            unverified = payload["token"]
            if not isinstance(unverified, str):
                raise TypeError(unverified)
        except (ValueError, KeyError, TypeError):
            return invalid("invalid-payload", "1 validation error for TokenPayload\ntoken\n  "
                           "Input should be a valid string")
        try:
            issuer = jwt.decode(unverified, options={"verify_signature": False})["iss"]
        except (jwt.PyJWTError, KeyError):
            return invalid("invalid-payload", "malformed JWT")
        if issuer != ISSUER:
            return invalid("invalid-payload", "unknown trusted publishing issuer")
        if self.mode == "not-enabled":
            return invalid("not-enabled", "github trusted publishing functionality not enabled")
        claims = self.verify_signature(unverified)
        if claims is None:
            return invalid("invalid-token", "malformed or invalid token")
        with self._lock:
            return self._mint_for(claims, invalid)

    def verify_signature(self, unverified: str) -> dict[str, Any] | None:
        try:
            if jwt.get_unverified_header(unverified).get("kid") != self.key_id:
                return None
            claims: dict[str, Any] = jwt.decode(
                unverified, self.issuer_key, algorithms=["RS256"], audience=self.audience,
                issuer=ISSUER, leeway=LEEWAY,
                options={"require": ["iss", "iat", "exp", "aud"], "verify_signature": True,
                         "verify_iss": True, "verify_iat": True, "verify_exp": True,
                         "verify_aud": True, "verify_nbf": True, "strict_aud": True},
            )
        except jwt.PyJWTError:
            return None
        return claims

    def _mint_for(self, claims: dict[str, Any],
                  invalid: Callable[[str, str], Answer]) -> Answer:
        try:
            pending = find_publisher(self.pending, claims, self.used_jti)
        except InvalidPublisher:
            pass
        except ReusedToken:
            return invalid("invalid-reuse-token", "invalid token: already used")  # see module doc
        else:
            assert isinstance(pending, PendingPublisher)
            project = normalize(pending.project_name)
            self.pending.remove(pending)
            if project in self.existing_projects:
                return invalid("invalid-pending-publisher", "valid token, but project already exists")
            self.existing_projects.add(project)
            self.publishers.append(Publisher(pending.repository, pending.repository_owner_id,
                                             pending.workflow_file, pending.environment, {project}))
        try:
            publisher = find_publisher(self.publishers, claims, self.used_jti)
        except ReusedToken:
            return invalid("invalid-reuse-token", "invalid token: already used")
        except InvalidPublisher as error:
            return invalid("invalid-publisher", f"valid token, but no corresponding publisher ({error})")
        if claims.get("jti"):
            if claims["jti"] in self.used_jti:
                return invalid("invalid-reuse-token", "invalid token: already used")
            self.used_jti.add(claims["jti"])
        token = new_secret("pypi-")
        expires = int(time.time()) + TOKEN_LIFETIME
        self.minted.append(token)
        self._tokens[token] = Minted(set(publisher.projects), expires, publisher)
        return 200, {"success": True, "token": token, "expires": expires}

    # -- uploads -----------------------------------------------------------------------------------------
    def _upload(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        with self._lock:
            self.upload_connections.append(handler.client_address[1])
        try:
            credentials = base64.b64decode(
                handler.headers.get("Authorization", "").removeprefix("Basic ")).decode()
        except ValueError:
            credentials = ""
        user, _, password = credentials.partition(":")
        minted = self._tokens.get(password) if user == "__token__" else None
        if minted is None or time.time() >= minted.expires:
            message = ("Invalid or non-existent authentication information. "
                       f"See {HELP}#invalid-auth for more information.")
            send(handler, 403, message.encode(), "text/plain", message)
            return
        found = re.search(rb'name="name"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r\n]*)\r\n', body)
        project = found.group(1).decode() if found else ""
        if normalize(project) not in minted.projects:
            message = (f"The given token isn't allowed to upload to project '{project}'. "
                       f"See {HELP}#project-name for more information.")
            send(handler, 403, message.encode(), "text/plain", message)
            return
        if b'name="attestations"' in body:  # `file_upload` checks them before storing the file
            refusal = self.attestations.upload(body, handler.headers["Content-Type"], minted.publisher) \
                if self.attestations else "Invalid attestations supplied during upload: no trusted root"
            if refusal:
                send(handler, 400, refusal.encode(), "text/plain", refusal.splitlines()[0])
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
