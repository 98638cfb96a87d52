"""A GitLab CI/CD-style ID token issuer: RS256 JWTs with GitLab's claim set, handed to a job in a variable.

GitLab makes one token per `id_tokens:` entry of a job and puts it in the job's environment
under the entry's name (`PYPI_ID_TOKEN: {aud: pypi}` -> `$PYPI_ID_TOKEN`); there is no endpoint to
ask. The claims follow GitLab's documentation ("Token payload", docs.gitlab.com/ci/secrets/
id_token_authentication) and the sample payloads of gitlab-org/gitlab!116867 (`runner_id`,
`runner_environment`, `sha`) and !122373 (`ci_config_ref_uri`: `<host>/<project path>//<pipeline
file>@<ref_path>`): `sub` is `project_path:<path>:ref_type:<type>:ref:<name>`, `ref` is the bare
branch or tag name, `ref_path` the full ref, and the environment claims are present only for a job
with `environment:`. The key pair is made at run time; the index is given the public key.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.secret_sweep import remember_secret

ISSUER = "https://gitlab.com"
KEY_ID = "gitlab-test-key"
SHA = "0c4d2e8f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d"


@dataclass
class Pipeline:
    """The job a token describes; change fields to make a token the index will refuse."""

    project_path: str = "octo-group/sample-project"
    namespace_id: str = "7001"
    project_id: str = "5151"
    ci_config_path: str = ".gitlab-ci.yml"
    ref: str = "v1.2.3"
    ref_type: str = "tag"
    environment: str | None = "pypi"
    # The project whose file defines the pipeline, when not the project itself (a CI/CD
    # configuration file set to `other/project:file.yml` in the project's settings).
    config_project: str | None = None
    pipeline_source: str = "push"
    host: str = "gitlab.com"

    @property
    def ref_path(self) -> str:
        return f"refs/{'tags' if self.ref_type == 'tag' else 'heads'}/{self.ref}"

    @property
    def ci_config_ref_uri(self) -> str:
        return (f"{self.host}/{self.config_project or self.project_path}//{self.ci_config_path}"
                f"@{self.ref_path}")

    def claims(self, audience: str, issuer: str, now: float, lifetime: int) -> dict[str, Any]:
        namespace = self.project_path.rsplit("/", 1)[0]
        claims: dict[str, Any] = {
            "namespace_id": self.namespace_id,
            "namespace_path": namespace,
            "project_id": self.project_id,
            "project_path": self.project_path,
            "user_id": "31337",
            "user_login": "release-bot",
            "user_email": "release-bot@example.org",
            "user_access_level": "maintainer",
            "pipeline_id": "987654321",
            "pipeline_source": self.pipeline_source,
            "job_id": "1234567890",
            "ref": self.ref,
            "ref_type": self.ref_type,
            "ref_path": self.ref_path,
            "ref_protected": "true",
            "runner_id": 12270859,
            "runner_environment": "gitlab-hosted",
            "sha": SHA,
            "project_visibility": "public",
            "ci_config_ref_uri": self.ci_config_ref_uri,
            "ci_config_sha": SHA,
            "jti": str(uuid.uuid4()),
            "iss": issuer,
            "iat": int(now),
            "nbf": int(now) - 5,
            "exp": int(now) + lifetime,
            "sub": f"project_path:{self.project_path}:ref_type:{self.ref_type}:ref:{self.ref}",
            "aud": audience,
        }
        if self.environment is not None:
            claims.update({"environment": self.environment, "environment_protected": "true",
                           "deployment_tier": "production", "environment_action": "start"})
        return claims


@dataclass
class GitLabOidc:
    """Signs the ID tokens GitLab would give a job of `pipeline`."""

    pipeline: Pipeline = field(default_factory=Pipeline)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    key_id: str = KEY_ID
    issuer: str = ISSUER
    lifetime: int = 300
    issued: list[str] = field(default_factory=list)

    def token(self, audience: str = "pypi") -> str:
        claims = self.pipeline.claims(audience, self.issuer, time.time(), self.lifetime)
        token = remember_secret(jwt.encode(claims, self.key, algorithm="RS256",
                                           headers={"kid": self.key_id}))
        self.issued.append(token)
        return token

    def job_env(self, audience: str = "pypi", variable: str = "PYPI_ID_TOKEN") -> dict[str, str]:
        """The variables of a GitLab job whose `id_tokens:` has `variable` with `aud: audience`."""
        namespace, _, name = self.pipeline.project_path.rpartition("/")
        return {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_SERVER_URL": f"https://{self.pipeline.host}",
            "CI_PROJECT_PATH": self.pipeline.project_path,
            "CI_PROJECT_NAMESPACE": namespace,
            "CI_PROJECT_NAME": name,
            "CI_COMMIT_REF_NAME": self.pipeline.ref,
            "CI_COMMIT_SHA": SHA,
            **({"CI_COMMIT_TAG": self.pipeline.ref} if self.pipeline.ref_type == "tag" else {}),
            **({"CI_ENVIRONMENT_NAME": self.pipeline.environment}
               if self.pipeline.environment is not None else {}),
            variable: self.token(audience),
        }
