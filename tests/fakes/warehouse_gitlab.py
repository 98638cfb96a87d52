"""The Warehouse front with GitLab Trusted Publishers too: GitLab ID tokens verified as Warehouse does.

Tokens whose `iss` is `https://gitlab.com` are handled here; every other token goes to the GitHub
front (`warehouse.py`) unchanged. Read from pypi/warehouse at commit
6b62157124ab7865029afeeadf282bce27d601d9:
- `warehouse/oidc/views.py` `mint_token_from_oidc`: the issuer picks the service
  (`oidc/utils.py` `OIDC_ISSUER_SERVICE_NAMES`: `https://gitlab.com` -> "gitlab"); the
  `not-enabled` description is f"{service_name} trusted publishing functionality not enabled";
  `mint_token`: `invalid-token` "malformed or invalid token", pending publishers first, then
  `invalid-publisher` f"valid token, but no corresponding publisher ({e})", `invalid-reuse-token`
  "invalid token: already used", a token for 900 s scoped to the publisher's projects.
- `warehouse/oidc/services.py` `verify_jwt_signature`: RS256, the issuer's key by `kid`,
  `iss`/`iat`/`exp`/`aud` required, exact audience, 30 s leeway; `find_publisher` skips the
  issuer-equality check for GitLab (`__supports_custom_issuer__`) because lookup filters by `iss`.
- `warehouse/oidc/models/_core.py` `check_claims_existence` ("Missing claim {name!r}") and
  `verify_claims` ("Check failed for required claim {name!r}", "... optional claim ...").
- `warehouse/oidc/models/gitlab.py` `GitLabPublisherMixin`: required claims `sub`, `project_path`,
  `ci_config_ref_uri`, `jti` (checked in that order) and `ref_path`, `sha`; optional
  `environment`; `lookup_by_claims`; `_check_ci_config_ref_uri`; `_check_sub`.
Simplification: no pending GitLab publishers.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.gitlab_oidc import ISSUER as GITLAB_ISSUER
from tests.fakes.gitlab_oidc import KEY_ID as GITLAB_KEY_ID
from tests.fakes.warehouse import (
    LEEWAY,
    TOKEN_LIFETIME,
    Answer,
    InvalidPublisher,
    Minted,
    ReusedToken,
    Warehouse,
)
from tests.support.secret_sweep import new_secret

REQUIRED_CLAIMS = ("sub", "project_path", "ci_config_ref_uri", "jti", "ref_path", "sha")
# gitlab.py `_WORKFLOW_FILEPATH_RE`: after the `//` that ends the project, up to `@`; the file
# path may hold slashes and must end in `.yml` or `.yaml` with a non-empty base name.
WORKFLOW_FILEPATH = re.compile(r"(?<=\/\/)(.*[^/]\.(yml|yaml))(?=@)")


@dataclass
class GitLabPublisher:
    """A GitLab Trusted Publisher as registered on the index."""

    namespace: str = "octo-group"
    project: str = "sample-project"
    workflow_filepath: str = ".gitlab-ci.yml"
    environment: str = ""  # empty: any environment
    issuer_url: str = GITLAB_ISSUER
    projects: set[str] = field(default_factory=lambda: {"sample-project"})

    @property
    def project_path(self) -> str:
        return f"{self.namespace}/{self.project}"

    @property
    def ci_config_ref_uri(self) -> str:
        return f"{self.issuer_url.removeprefix('https://')}/{self.project_path}//{self.workflow_filepath}"

    def verify(self, claims: dict[str, Any], used_jti: set[str]) -> None:
        """`verify_claims` with GitLab's checks, in their order and words."""
        sub = str(claims.get("sub") or "").split(":")
        if len(sub) < 2 or not sub[0] or not sub[1] \
                or f"{sub[0]}:{sub[1]}".lower() != f"project_path:{self.project_path}".lower():
            raise InvalidPublisher("Check failed for required claim 'sub'")
        if not claims.get("project_path") or str(claims["project_path"]).lower() != self.project_path.lower():
            raise InvalidPublisher("Check failed for required claim 'project_path'")
        ref_uri = claims.get("ci_config_ref_uri")
        if not ref_uri:
            raise InvalidPublisher("The ci_config_ref_uri claim is empty")
        if not (claims.get("ref_path") and claims.get("sha")):
            raise InvalidPublisher("The ref_path and sha claims are empty")
        expected = {f"{self.ci_config_ref_uri}@{ref}" for ref in (claims["ref_path"], claims["sha"])}
        if ref_uri not in expected:
            raise InvalidPublisher("The ci_config_ref_uri claim does not match, expecting one of "
                                   f"{sorted(expected)!r}, got {ref_uri!r}")
        if claims["jti"] in used_jti:
            raise ReusedToken
        environment = claims.get("environment")
        if self.environment and (not environment or environment != self.environment):
            raise InvalidPublisher("Check failed for optional claim 'environment'")


def find_gitlab_publisher(publishers: list[GitLabPublisher], claims: dict[str, Any],
                          used_jti: set[str]) -> GitLabPublisher:
    for name in REQUIRED_CLAIMS:
        if claims.get(name) is None:
            raise InvalidPublisher(f"Missing claim {name!r}")
    namespace, _, project = str(claims["project_path"]).rpartition("/")
    found = WORKFLOW_FILEPATH.search(str(claims["ci_config_ref_uri"]))
    if not found:
        raise InvalidPublisher("Could not extract workflow filename from OIDC claims")
    candidates = [p for p in publishers if p.namespace.lower() == namespace.lower()
                  and p.project.lower() == project.lower() and p.workflow_filepath == found.group(0)
                  and p.issuer_url == claims["iss"]]
    environment = claims.get("environment")
    chosen = None
    if environment:  # `_get_publisher_for_environment`: exact name, then any-environment
        chosen = next((p for p in candidates if p.environment == environment), None)
    chosen = chosen or next((p for p in candidates if p.environment == ""), None)
    if chosen is None:
        raise InvalidPublisher("Publisher with matching claims was not found")
    chosen.verify(claims, used_jti)
    return chosen


@dataclass
class GitLabWarehouse(Warehouse):
    """The Warehouse front, also accepting ID tokens from the GitLab issuer for `gitlab_publishers`."""

    gitlab_key: rsa.RSAPublicKey | None = None
    gitlab_key_id: str = GITLAB_KEY_ID
    gitlab_publishers: list[GitLabPublisher] = field(default_factory=lambda: [GitLabPublisher()])
    gitlab_enabled: bool = True  # False: Warehouse's DISALLOW_GITLAB_OIDC admin flag

    @property
    def gitlab_publisher(self) -> GitLabPublisher:
        return self.gitlab_publishers[0]

    def mint(self, body: bytes) -> Answer:
        token = _token(body)
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss") if token else None
        except jwt.PyJWTError:
            issuer = None
        if issuer != GITLAB_ISSUER or token is None:
            return super().mint(body)  # every check of the GitHub front, unknown issuers included

        def invalid(code: str, description: str) -> Answer:
            return 422, {"message": "Token request failed",
                         "errors": [{"code": code, "description": description}]}

        if not self.gitlab_enabled:
            return invalid("not-enabled", "gitlab trusted publishing functionality not enabled")
        claims = self._verify_gitlab(token)
        if claims is None:
            return invalid("invalid-token", "malformed or invalid token")
        with self._lock:
            try:
                publisher = find_gitlab_publisher(self.gitlab_publishers, claims, self.used_jti)
            except ReusedToken:
                return invalid("invalid-reuse-token", "invalid token: already used")
            except InvalidPublisher as error:
                return invalid("invalid-publisher",
                               f"valid token, but no corresponding publisher ({error})")
            if claims["jti"] in self.used_jti:
                return invalid("invalid-reuse-token", "invalid token: already used")
            self.used_jti.add(claims["jti"])
            minted = new_secret("pypi-")
            expires = int(time.time()) + TOKEN_LIFETIME
            self.minted.append(minted)
            self._tokens[minted] = Minted(set(publisher.projects), expires)
            return 200, {"success": True, "token": minted, "expires": expires}

    def _verify_gitlab(self, token: str) -> dict[str, Any] | None:
        if self.gitlab_key is None:
            return None
        try:
            if jwt.get_unverified_header(token).get("kid") != self.gitlab_key_id:
                return None
            claims: dict[str, Any] = jwt.decode(
                token, self.gitlab_key, algorithms=["RS256"], audience=self.audience,
                issuer=GITLAB_ISSUER, leeway=LEEWAY,
                options={"require": ["iss", "iat", "exp", "aud"], "verify_signature": True,
                         "verify_iss": True, "verify_iat": True, "verify_exp": True,
                         "verify_aud": True, "verify_nbf": True, "strict_aud": True},
            )
        except jwt.PyJWTError:
            return None
        return claims


def _token(body: bytes) -> str | None:
    try:
        value = json.loads(body).get("token")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
