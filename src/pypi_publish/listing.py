"""What the index already has of a project: one query of its simple API (PEP 691 JSON or PEP 503 HTML)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

import requests

from .distribution import Distribution
from .http import Transient, Unreachable, retry, send
from .index import Index
from .retry import RetryPolicy
from .wire import simple_files

ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
HASH_NAMES = ("sha256", "blake2b_256", "md5")
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip", ".egg", ".tar.bz2", ".tgz", ".exe", ".msi")


@dataclass(frozen=True)
class IndexFile:
    filename: str
    hashes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """Files the index lists for the project; `known` is False when the index could not say."""

    known: bool
    files: Mapping[str, IndexFile] = field(default_factory=dict)
    reason: str = ""  # why the listing is unknown, or how it was found (verbose log)
    requests: int = 0  # round trips it took

    def same_content(self, dist: Distribution) -> bool | None:
        """True/False when the index has `dist`'s name and a hash to compare; None otherwise."""
        listed = self.files.get(dist.filename)
        if listed is None:
            return None
        for name in HASH_NAMES:
            theirs = listed.hashes.get(name)
            if theirs:
                # md5 only when the index lists nothing better: hashing costs time on large files.
                ours = {"sha256": dist.sha256, "blake2b_256": dist.blake2_256}.get(name) or dist.md5
                return theirs.lower() == ours
        return None


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, IndexFile] = {}
        self.anchors = 0
        self.repository_version = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and values.get("name") == "pypi:repository-version":
            self.repository_version = True
        if tag != "a":
            return
        self.anchors += 1
        href = values.get("href") or ""
        url, _, fragment = href.partition("#")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if not filename.endswith(_DIST_SUFFIXES):
            return
        hashes = {}
        if "=" in fragment:
            algorithm, _, value = fragment.partition("=")
            hashes[algorithm.replace("blake2b-256", "blake2b_256")] = value
        self.files[filename] = IndexFile(filename, hashes)


def parse_simple_page(content_type: str, body: bytes) -> dict[str, IndexFile] | None:
    """The files of a project page; None when the body is not a simple page at all."""
    if "json" in content_type:
        document = json.loads(body)
        if not isinstance(document, dict) or (not isinstance(document.get("meta"), dict) \
                and "files" not in document):
            return None
        return {entry["filename"]: IndexFile(entry["filename"], entry["hashes"])
                for entry in simple_files(document)}
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    if parser.anchors and not parser.files and not parser.repository_version:
        # Links, none of them to a distribution: a login or error page, not a simple page.
        return None
    return parser.files


def fetch_listing(index: Index, project: str, session: requests.Session, policy: RetryPolicy,
                  auth: tuple[str, str] | None, confirmed: set[str] | None = None) -> Listing:
    """The project's files on the index. Never raises: an index that cannot answer is `unknown`.

    `confirmed` holds the simple roots already seen to answer as a simple API, so a guessed
    layout is checked once per run, not once per listing.
    """
    url = index.simple_page(project)
    send_auth = auth if index.may_receive_credentials(url) else None
    count = 0

    def get(target: str) -> requests.Response | Transient | Unreachable:
        nonlocal count
        count += 1
        return send(lambda: session.get(target, headers={"Accept": ACCEPT}, auth=send_auth,
                                        timeout=policy.timeout, allow_redirects=False))

    result: requests.Response | Transient | Unreachable = retry(lambda: get(url), policy)
    if not isinstance(result, requests.Response):
        if isinstance(result, Transient):
            result.discard()
        return Listing(False, reason=f"the index did not answer ({result.reason})", requests=count)
    with result:
        status = result.status_code
        if status == 404:
            known = confirmed if confirmed is not None else set()
            if index.simple_guessed and index.simple_url not in known:
                if not _is_simple_root(get(index.simple_url)):
                    return Listing(False, reason=f"{url} answered 404 and {index.simple_url} is not "
                                   f"a simple API ({index.simple_origin} was a guess)",
                                   requests=count)
                known.add(index.simple_url)
            return Listing(True, reason=f"{url}: no such project yet", requests=count)
        if status != 200:
            return Listing(False, reason=f"{url} answered HTTP {status}", requests=count)
        try:
            files = parse_simple_page(result.headers.get("Content-Type", ""), result.content)
        except (ValueError, TypeError, AttributeError):
            files = None
    if files is None:
        return Listing(False, reason=f"the answer of {url} is not a simple API page", requests=count)
    return Listing(True, files, reason=f"{url} ({index.simple_origin})", requests=count)


def _is_simple_root(answer: requests.Response | Transient | Unreachable) -> bool:
    """True when the index's simple root answers like one (PEP 691 JSON or PEP 503 HTML)."""
    if not isinstance(answer, requests.Response):
        if isinstance(answer, Transient):
            answer.discard()
        return False
    with answer:
        if answer.status_code != 200:
            return False
        content_type = answer.headers.get("Content-Type", "")
        if "json" in content_type:
            try:
                document = json.loads(answer.content)
            except ValueError:
                return False
            return isinstance(document, dict) and "projects" in document
        text = answer.text.lower()
        return "<a" in text or "pypi:repository-version" in text or "<html" in text
