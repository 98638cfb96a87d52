"""What the index already has for a project: one query of its simple API (PEP 691 JSON or HTML)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

import requests

from .dists import Distribution
from .http import with_retries
from .retry import RetryPolicy

_KNOWN_SIMPLE_ROOTS = {
    "upload.pypi.org": "https://pypi.org/simple/",
    "test.pypi.org": "https://test.pypi.org/simple/",
}
ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
HASH_NAMES = ("sha256", "blake2b_256", "md5")


def simple_root(upload_url: str) -> str:
    """The simple API root that belongs to an upload URL (`…/legacy/` -> `…/simple/`)."""
    parts = urlsplit(upload_url)
    known = _KNOWN_SIMPLE_ROOTS.get(parts.hostname or "")
    if known and parts.path.rstrip("/") in ("/legacy", ""):
        return known
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    path = re.sub(r"legacy/$", "", path)
    return urlunsplit((parts.scheme, parts.netloc, path + "simple/", "", ""))


@dataclass(frozen=True)
class IndexFile:
    filename: str
    hashes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IndexView:
    """Files the index lists for the project; `known` is False when the index could not say."""

    known: bool
    files: Mapping[str, IndexFile] = field(default_factory=dict)
    reason: str = ""

    def same_content(self, dist: Distribution) -> bool | None:
        """True/False when the index has `dist`'s name and a hash to compare; None otherwise."""
        listed = self.files.get(dist.filename)
        if listed is None:
            return None
        ours = {"sha256": dist.sha256, "blake2b_256": dist.blake2_256, "md5": dist.md5}
        for name in HASH_NAMES:
            theirs = listed.hashes.get(name)
            if isinstance(theirs, str) and theirs:
                return theirs.lower() == ours[name]
        return None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, IndexFile] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href") or ""
        url, _, fragment = href.partition("#")
        filename = urlsplit(url).path.rsplit("/", 1)[-1]
        if not filename:
            return
        hashes = {}
        if "=" in fragment:
            algorithm, _, value = fragment.partition("=")
            hashes[algorithm.replace("blake2b-256", "blake2b_256")] = value
        self.files[filename] = IndexFile(filename, hashes)


def _string_hashes(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def parse_simple_page(content_type: str, body: bytes) -> dict[str, IndexFile]:
    if "json" in content_type:
        document = json.loads(body)
        files = document.get("files", []) if isinstance(document, dict) else []
        return {
            entry["filename"]: IndexFile(entry["filename"], _string_hashes(entry.get("hashes")))
            for entry in (files if isinstance(files, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("filename"), str)
        }
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    return parser.files


def fetch_index_view(
    upload_url: str,
    project: str,
    session: requests.Session,
    policy: RetryPolicy,
    auth: tuple[str, str] | None,
) -> IndexView:
    """One GET of the project's simple page. Never raises: an index that cannot answer is `unknown`."""
    url = simple_root(upload_url) + project + "/"
    # Credentials go only back to the host they were issued for.
    same_host = urlsplit(url).netloc == urlsplit(upload_url).netloc
    send_auth = auth if same_host and urlsplit(url).hostname not in _KNOWN_SIMPLE_ROOTS else None
    attempt = with_retries(
        lambda: session.get(url, headers={"Accept": ACCEPT}, auth=send_auth,
                            timeout=policy.timeout, allow_redirects=False),
        policy,
    )
    response = attempt.response
    if response is None:
        return IndexView(False, reason="the index did not answer")
    with response:
        if response.status_code == 404:
            return IndexView(True)
        if response.status_code != 200:
            return IndexView(False, reason=f"the simple API answered HTTP {response.status_code}")
        try:
            files = parse_simple_page(response.headers.get("Content-Type", ""), response.content)
        except (ValueError, TypeError, AttributeError):
            return IndexView(False, reason="the simple API's answer could not be parsed")
    return IndexView(True, files)
