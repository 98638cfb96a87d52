"""Trusted Publishers other than GitHub's, as the index holds them: claims matched, fields, fixes.

Read from pypi/warehouse (commit 6b62157124ab7865029afeeadf282bce27d601d9):
`warehouse/oidc/models/gitlab.py` (`GitLabPublisherMixin`: `lookup_by_claims` finds publishers by
namespace and project, both case-insensitive, the exact `workflow_filepath` cut from
`ci_config_ref_uri` between `//` and `@`, and the token's `iss` as `issuer_url`; an environment
publisher wins over one without, compared case-sensitively; `verify_claims` then checks `sub`,
`project_path`, `ci_config_ref_uri` == `<host>/<namespace>/<project>//<file>@<ref_path or sha>` and
the `jti`), `warehouse/oidc/models/google.py` (`email` exact, `email_verified` true, optional
`sub`), `warehouse/oidc/utils.py` (`OIDC_ISSUER_SERVICE_NAMES`: GitHub, GitLab, Google and
ActiveState only; other GitLab issuers via an organization's registered issuers), and the
publisher forms' field names (`warehouse/oidc/forms/gitlab.py`, `google.py`), which the project's
publishing page pre-fills from its query (`warehouse/manage/views/oidc_publishers.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from .wire import text

GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUER = "https://accounts.google.com"
# The claims each provider's publisher is matched on, in the order shown.
CLAIMS_SHOWN = {
    "GitLab": ("iss", "project_path", "ci_config_ref_uri", "ref_path", "sha", "environment"),
    "Google Cloud": ("iss", "email", "email_verified", "sub"),
}
OTHER_CLAIMS = ("iss", "sub", "aud")
# Providers the index has a publisher type for (Warehouse's `OIDC_ISSUER_SERVICE_NAMES`).
PUBLISHER_KINDS = "GitHub Actions, GitLab CI/CD, Google Cloud and ActiveState"


def _claim(claims: Mapping[str, object], name: str) -> str | None:
    value = claims.get(name)
    return None if value is None else text(value)


def claims_shown(provider: str) -> tuple[str, ...]:
    return CLAIMS_SHOWN.get(provider, OTHER_CLAIMS)


def config_file_of(ref_uri: str | None) -> tuple[str, str] | None:
    """`gitlab.com/ns/proj//ci/release.yml@refs/tags/v1` -> (`gitlab.com/ns/proj`, `ci/release.yml`)."""
    head, sep, rest = (ref_uri or "").partition("//")
    path, at, _ = rest.rpartition("@")
    if not sep or not at or not path.endswith((".yml", ".yaml")):
        return None
    return head, path


@dataclass(frozen=True)
class GitLabFields:
    """The GitLab publisher the index would have to hold to accept these claims."""

    namespace: str
    project: str
    workflow_filepath: str
    environment: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> GitLabFields:
        namespace, _, project = (_claim(claims, "project_path") or "MISSING/MISSING").rpartition("/")
        found = config_file_of(_claim(claims, "ci_config_ref_uri"))
        return cls(namespace or "MISSING", project, found[1] if found else "MISSING",
                   _claim(claims, "environment") or "")

    def form_query(self) -> str:
        params = {"provider": "gitlab", "namespace": self.namespace, "project": self.project,
                  "workflow_filepath": self.workflow_filepath}
        if self.environment:
            params["environment"] = self.environment
        return urlencode(params)

    def identity(self) -> str:
        shown = f"`{self.namespace}/{self.project}` `{self.workflow_filepath}`"
        return shown + (f" (environment `{self.environment}`)" if self.environment else "")


@dataclass(frozen=True)
class GoogleFields:
    """The Google publisher: the service account's email, and optionally its subject."""

    email: str
    sub: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> GoogleFields:
        return cls(_claim(claims, "email") or "MISSING", _claim(claims, "sub") or "")

    def form_query(self) -> str:
        return urlencode({"provider": "google", "email": self.email, "sub": self.sub})

    def identity(self) -> str:
        return f"`{self.email}`"


def fields(provider: str, claims: Mapping[str, object]) -> GitLabFields | GoogleFields | None:
    if provider == "GitLab":
        return GitLabFields.from_claims(claims)
    if provider == "Google Cloud":
        return GoogleFields.from_claims(claims)
    return None


def _gitlab_publisher_hints(claims: Mapping[str, object]) -> list[str]:
    found = GitLabFields.from_claims(claims)
    environment = (f"`{found.environment}` (or empty, to allow any environment)"
                   if found.environment else "empty (this job has no `environment:`)")
    hints = [
        "No Trusted Publisher on the index matches these claims. The project's GitLab publisher "
        f"must read exactly: namespace `{found.namespace}`, project name `{found.project}`, "
        f"top-level pipeline file path `{found.workflow_filepath}`, environment name {environment}.",
        "Spell them as GitLab does, case included: the index finds the publisher by namespace "
        "and project without regard to case, but then compares `ci_config_ref_uri` (which holds "
        "both and the pipeline file path, between `//` and `@`) and the environment name exactly.",
    ]
    path = _claim(claims, "project_path") or ""
    config = config_file_of(_claim(claims, "ci_config_ref_uri"))
    if config and path and not config[0].lower().endswith("/" + path.lower()):
        hints.append(
            f"The pipeline definition comes from `{config[0]}` (claim `ci_config_ref_uri`), not "
            f"from `{path}`: the index accepts only a top-level pipeline file of the publishing "
            "project itself. Point the project's CI/CD configuration file (Settings > CI/CD) back "
            "to a file of this repository."
        )
    if "environment" not in claims:
        hints.append(
            "The job has no `environment:` (claim `environment` is MISSING). If the publisher on "
            "the index names an environment, add `environment: <that name>` to the publishing job "
            "in `.gitlab-ci.yml`."
        )
    issuer = _claim(claims, "iss")
    if issuer and issuer != GITLAB_ISSUER:
        hints.append(
            f"The token comes from a self-managed GitLab (`iss` is `{issuer}`): the publisher must "
            "name that issuer URL, which the index offers only to organizations that registered "
            "the instance as their OIDC issuer."
        )
    return hints


def _google_publisher_hints(claims: Mapping[str, object]) -> list[str]:
    found = GoogleFields.from_claims(claims)
    hints = [
        "No Trusted Publisher on the index matches these claims. The project's Google publisher "
        f"must name the email `{found.email}`, and either no subject or `{found.sub or 'MISSING'}`."
    ]
    if claims.get("email_verified") is not True:
        hints.append("The token's `email_verified` is not true: the index refuses it whatever the "
                     "publisher says; request the ID token with the email included (`format=full`).")
    return hints


def invalid_publisher_hints(provider: str, claims: Mapping[str, object]) -> list[str]:
    if provider == "GitLab":
        return _gitlab_publisher_hints(claims)
    if provider == "Google Cloud":
        return _google_publisher_hints(claims)
    return [f"The index has no Trusted Publisher type for {provider}: it knows {PUBLISHER_KINDS}. "
            "Use an API token."]


def code_hint(provider: str, code: str, description: str, claims: Mapping[str, object]) -> str | None:
    """The fix for one refusal code, for a token from `provider` (any but GitHub)."""
    from .tp_diagnostics import when

    issuer = _claim(claims, "iss")
    if code == "invalid-payload" and "issuer" in description:
        if provider == "GitLab":
            return (f"The index does not accept ID tokens from issuer `{issuer}` (claim `iss`): "
                    f"PyPI accepts `{GITLAB_ISSUER}`, and a self-managed GitLab only where an "
                    "organization on the index registered it as its issuer. Use an API token.")
        return (f"The index does not accept ID tokens from {provider} (issuer `{issuer}`): it has "
                f"Trusted Publishers for {PUBLISHER_KINDS} only. Use an API token.")
    if code == "invalid-payload":
        return ("The index could not read the token request. Re-run the job; if it persists, "
                "report it to pypi-publish with this log.")
    if code == "not-enabled":
        return (f"Trusted Publishing with {provider} is switched off on the index for now (usually "
                "during an incident): use an API token (`PYPI_API_TOKEN`) until it is back.")
    if code == "invalid-token":
        fix = ("set `aud` of the `id_tokens:` entry in `.gitlab-ci.yml` to the index's audience"
               if provider == "GitLab" else "check the job's OIDC settings")
        return ("The index could not verify the ID token: expired or not yet valid (check the "
                "clock), made for another audience, or signed with a key the index does not know "
                f"(token: audience `{_claim(claims, 'aud')}`, issuer `{issuer}`, issued "
                f"{when(claims.get('iat'))}, expires {when(claims.get('exp'))}). For the audience, "
                f"{fix}; then re-run the job.")
    if code == "invalid-reuse-token":
        if provider == "GitLab":
            return ("The index had seen this ID token before; each is accepted once, and GitLab "
                    "gives a job a single token per `id_tokens:` entry, so a second exchange in the "
                    "same job (a retry after a lost answer, or renewing a 15-minute upload token "
                    "during a long release) cannot succeed. Re-run the job.")
        return ("The index had seen this ID token before; each is accepted once. Re-run the job.")
    if code == "invalid-pending-publisher":
        return ("A pending publisher matched this job, but its project already exists on the "
                "index, so the pending publisher was dropped: add the publisher on the existing "
                "project's publishing settings instead.")
    return None
