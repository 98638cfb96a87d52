"""The `Index` value: every URL and name of the index a release goes to; the only place that knows hosts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote, urlsplit, urlunsplit

PYPI_UPLOAD_URL = "https://upload.pypi.org/legacy/"
TESTPYPI_UPLOAD_URL = "https://test.pypi.org/legacy/"
REPOSITORIES = {"pypi": PYPI_UPLOAD_URL, "testpypi": TESTPYPI_UPLOAD_URL}


class Kind(Enum):
    """The index software, as far as the upload URL's layout tells it."""

    PYPI = "PyPI"
    TESTPYPI = "TestPyPI"
    DEVPI = "devpi"
    ARTIFACTORY = "Artifactory"
    NEXUS = "Nexus"
    CODEARTIFACT = "CodeArtifact"
    GITLAB = "GitLab"
    GITEA = "Gitea/Forgejo"
    OTHER = "other"


# Warehouse's hosts: the upload host and the site (web pages, simple API, JSON API, forms).
_WAREHOUSES = {
    "upload.pypi.org": (Kind.PYPI, "https://pypi.org"),
    "pypi.org": (Kind.PYPI, "https://pypi.org"),
    "test.pypi.org": (Kind.TESTPYPI, "https://test.pypi.org"),
}

# Path layouts whose simple API is the upload URL plus `simple/` (each registry's documented form).
_SIMPLE_BESIDE_UPLOAD = (
    (Kind.ARTIFACTORY, re.compile(r"^(.*/api/pypi/[^/]+)/?$")),
    (Kind.GITLAB, re.compile(r"^(.*/api/v4/projects/[^/]+/packages/pypi)/?$")),
    (Kind.GITEA, re.compile(r"^(.*/api/packages/[^/]+/pypi)/?$")),
    (Kind.NEXUS, re.compile(r"^(/repository/[^/]+)/?$")),
)
_CODEARTIFACT_HOST = re.compile(r"^[a-z0-9-]+\.d\.codeartifact\.[a-z0-9-]+\.amazonaws\.com$")
# devpi serves `/<user>/<index>/` for uploads and `/<user>/<index>/+simple/` for the simple API.
_DEVPI_PATH = re.compile(r"^/[^/+]+/[^/+]+/?$")


@dataclass(frozen=True)
class Index:
    """Where uploads go, where the index lists its files, and how to name and link it."""

    upload_url: str
    simple_url: str  # root of the simple API, ending in `/`
    # True when `simple_url` was derived from the upload URL by a layout rule rather than known
    # (PyPI, TestPyPI) or given (`index-url`): a 404 from it may mean "wrong URL", not "no files".
    simple_guessed: bool
    simple_origin: str  # why this simple URL, for the verbose log
    kind: Kind

    @property
    def name(self) -> str:
        if self.kind in (Kind.PYPI, Kind.TESTPYPI):
            return str(self.kind.value)
        return urlsplit(self.upload_url).netloc

    @property
    def is_warehouse(self) -> bool:
        """PyPI or TestPyPI: Warehouse's rules and messages apply."""
        return self.kind in (Kind.PYPI, Kind.TESTPYPI)

    @property
    def first_file_creates_release(self) -> bool:
        """Whether a new release must get one file alone before the others are sent.

        Warehouse (PyPI, TestPyPI, or one served at `/legacy/`) creates the project and release
        from the first file it processes and fills the release's metadata from it; files that
        race it can fail on the creation or give the release an sdist's metadata. GitLab, Gitea
        and CodeArtifact also create a package record on a first upload. pypiserver, devpi (one
        writer at a time), Artifactory and Nexus store each file on its own, so everything can
        go at once.
        """
        if self.kind in (Kind.PYPI, Kind.TESTPYPI, Kind.GITLAB, Kind.GITEA, Kind.CODEARTIFACT):
            return True
        return self.kind is Kind.OTHER and urlsplit(self.upload_url).path.rstrip("/").endswith(
            "/legacy")

    @property
    def site(self) -> str | None:
        """Warehouse's web site (pages, forms, help), None for other indexes."""
        entry = _WAREHOUSES.get(urlsplit(self.upload_url).hostname or "")
        return entry[1] if entry and self.is_warehouse else None

    @property
    def may_replace(self) -> bool:
        """Whether an upload of an existing file name may silently replace the file.

        Warehouse never replaces (it answers 400 "File already exists"), CodeArtifact answers 409,
        GitLab and Gitea 400. devpi's volatile indexes, Artifactory for a user with DELETE
        permission, Nexus with "allow redeploy" and pypiserver with `--overwrite` store the new
        file over the old one with a 200, and nothing in the URL tells those set-ups apart (the
        listing learns devpi's `volatile` flag at run time).
        """
        return self.kind not in (Kind.PYPI, Kind.TESTPYPI, Kind.CODEARTIFACT, Kind.GITLAB,
                                 Kind.GITEA)

    @property
    def address(self) -> str:
        """`host:port` of the upload URL, the port spelled out, for network failures."""
        parts = urlsplit(self.upload_url)
        try:
            port = parts.port
        except ValueError:
            port = None
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        return f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"

    @property
    def supports_attestations(self) -> bool:
        """Known by its host to take PEP 740 attestations (PyPI, TestPyPI). Any other index that
        grants a Trusted Publishing token is a Warehouse too and gets them (`attest_stage.decide`)."""
        return self.is_warehouse

    @property
    def trusted_publishing_root(self) -> str:
        """`scheme://netloc` of the upload URL: where `/_/oidc/audience` and `/_/oidc/mint-token` are."""
        parts = urlsplit(self.upload_url)
        return f"{parts.scheme}://{parts.netloc}"

    def simple_page(self, project: str) -> str:
        return f"{self.simple_url}{quote(project, safe='')}/"

    def may_receive_credentials(self, url: str) -> bool:
        """Credentials go only back to the host (and scheme) they are meant for."""
        ours, theirs = urlsplit(self.upload_url), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)

    def project_page(self, project: str, version: str) -> str:
        site = self.site
        if site:
            return f"{site}/project/{quote(project, safe='')}/{quote(version, safe='')}/"
        return self.simple_page(project)

    def publishing_page(self, project: str) -> str | None:
        """The project's Trusted Publishing settings on Warehouse."""
        site = self.site
        return f"{site}/manage/project/{quote(project, safe='')}/settings/publishing/" if site else None

    def collaborators_page(self, project: str) -> str | None:
        """Where an Owner gives an account a role on the project (Warehouse)."""
        site = self.site
        return f"{site}/manage/project/{quote(project, safe='')}/collaboration/" if site else None

    def pending_publishers_page(self) -> str | None:
        site = self.site
        return f"{site}/manage/account/publishing/" if site else None

    def help_page(self, anchor: str) -> str | None:
        site = self.site
        return f"{site}/help/#{anchor}" if site else None

    def token_page(self) -> str | None:
        site = self.site
        return f"{site}/manage/account/token/" if site else None

    def upload_url_for_download_url(self) -> str | None:
        """When the upload URL is in fact a download URL (simple or JSON API): the upload URL meant.

        Warehouse takes uploads only at `/legacy/` on its upload host; everywhere else the
        upload URL is what comes before `simple/` (`+simple/` on devpi) in the simple API's URL.
        """
        parts = urlsplit(self.upload_url)
        if self.is_warehouse:
            # warehouse/forklift/action_routing.py: the upload route is `/legacy/` on the upload
            # host only (a POST to its `/` gets the 200 page about uploads, storing nothing).
            meant = PYPI_UPLOAD_URL if self.kind is Kind.PYPI else TESTPYPI_UPLOAD_URL
            same_host = parts.hostname == urlsplit(meant).hostname
            return None if same_host and parts.path.rstrip("/") == "/legacy" else meant
        base = _before_simple(parts.path)
        if base is None:
            return None
        return str(urlunsplit((parts.scheme, parts.netloc, _upload_path(base), "", "")))


def _before_simple(path: str) -> str | None:
    """The path before a `simple` (or devpi's `+simple`) segment, with its `/`; None if none."""
    if any(pattern.match(path) for _, pattern in _SIMPLE_BESIDE_UPLOAD):
        return None  # an upload URL whose repository happens to be called `simple`
    match = re.fullmatch(r"(.*?/)\+?simple(?:/.*)?", path)
    return match.group(1) if match else None


def _upload_path(base: str) -> str:
    """The upload path of the index whose simple API is under `base`: the registries whose
    documented upload URLs have no trailing slash (Artifactory, GitLab, Gitea) get none."""
    trimmed = base.rstrip("/")
    for kind, pattern in _SIMPLE_BESIDE_UPLOAD:
        if kind is not Kind.NEXUS and pattern.match(trimmed):
            return trimmed
    return base


def make_index(upload_url: str, index_url: str = "") -> Index:
    """The Index of an upload URL (already checked by `urls.check_index_url`), and its simple API."""
    parts = urlsplit(upload_url)
    host = parts.hostname or ""
    path = parts.path or "/"
    warehouse = _WAREHOUSES.get(host)
    if warehouse:
        kind, site = warehouse
        simple, origin, guessed = f"{site}/simple/", f"{kind.value}'s simple API", False
    else:
        kind, simple, origin = _layout(parts.scheme, parts.netloc, host, path)
        guessed = True
        before = _before_simple(path)
        if before is not None:
            # A simple API URL given as the upload URL: uploads will be refused there, but the
            # listing can still be read from it (and `answers` names the upload URL meant).
            kind = _layout(parts.scheme, parts.netloc, host, _upload_path(before))[0]
            plus = "+" if path[len(before):].startswith("+") else ""
            simple = urlunsplit((parts.scheme, parts.netloc, f"{before}{plus}simple/", "", ""))
            origin = "the upload URL is itself a simple API URL"
    if index_url:
        simple = index_url if index_url.endswith("/") else index_url + "/"
        origin, guessed = "given as the index URL", False
    return Index(upload_url, simple, guessed, origin, kind)


def _layout(scheme: str, netloc: str, host: str, path: str) -> tuple[Kind, str, str]:
    def url(simple_path: str) -> str:
        return urlunsplit((scheme, netloc, simple_path, "", ""))

    for kind, pattern in _SIMPLE_BESIDE_UPLOAD:
        match = pattern.match(path)
        if match:
            return kind, url(match.group(1) + "/simple/"), f"{kind.value} layout: <upload URL>/simple/"
    if _CODEARTIFACT_HOST.match(host):
        base = path if path.endswith("/") else path + "/"
        return Kind.CODEARTIFACT, url(base + "simple/"), "CodeArtifact layout: <upload URL>/simple/"
    if _DEVPI_PATH.match(path) and not path.rstrip("/").endswith("/legacy"):
        base = path if path.endswith("/") else path + "/"
        return Kind.DEVPI, url(base + "+simple/"), "devpi layout: /<user>/<index>/+simple/"
    base = path if path.endswith("/") else path + "/"
    base = re.sub(r"legacy/$", "", base)
    return Kind.OTHER, url(base + "simple/"), "the upload URL with `legacy/` replaced by `simple/`"
