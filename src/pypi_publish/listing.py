"""What the index already has of a project: its simple API (PEP 691 JSON or PEP 503 HTML), asked once.

A simple URL derived from the upload URL by a layout rule is a guess: a 404 from it means "no such
project" only once the simple root has answered as one (devpi, GitLab and pypiserver answer a
wrong guess with 404 too), and a redirect elsewhere (GitLab and pypiserver forward unknown
projects to pypi.org) or a page that is not a simple page says nothing at all: the listing is
then unknown, never empty. devpi is recognised by its `X-Devpi-*` headers on any answer; its
index config (`GET <index URL>`, JSON) says whether uploads replace files (`volatile`).
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import requests

from .distribution import Distribution
from .http import Transient, Unreachable, retry, send
from .index import Index
from .retry import RetryPolicy
from .wire import simple_files

ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
HASH_NAMES = ("sha256", "blake2b_256", "md5")
_DIST_SUFFIXES = (".whl", ".tar.gz", ".zip", ".egg", ".tar.bz2", ".tgz", ".exe", ".msi")
DEVPI_HEADER = "X-Devpi-Server-Version"  # on every devpi answer, even a 404
# A TLS server answers a ClientHello within a round trip. The listing's first attempt gives the
# handshake this long before asking the port in plain http whether that is what it speaks.
HANDSHAKE_PATIENCE = 3.0
PROBE_TIMEOUT = 1.5
TLS_TO_PLAIN = "TLS handshake failed: the server does not speak TLS on that port (plain http?)"
Answer = requests.Response | Transient | Unreachable


@dataclass(frozen=True)
class IndexFile:
    filename: str
    hashes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """Files the index lists for the project; `known` is False when the index could not say."""

    known: bool
    files: Mapping[str, IndexFile] = field(default_factory=dict)
    reason: str = ""  # why the listing is unknown, or which simple URL answered and why (verbose log)
    requests: int = 0  # round trips it took
    # Whether uploads replace files of the same name, when the index said so (devpi `volatile`).
    replaces: bool | None = None
    # No connection to the upload URL's host at all: uploads there cannot get through either.
    unreachable: Unreachable | None = None

    def may_replace(self, index: Index) -> bool:
        return self.replaces if self.replaces is not None else index.may_replace

    def same_content(self, dist: Distribution) -> bool | None:
        """True/False when the index has `dist`'s name and a hash to compare; None otherwise."""
        listed = self.files.get(dist.filename)
        if listed is None:
            return None
        for name in HASH_NAMES:
            theirs = listed.hashes.get(name)
            if theirs:
                # The best digest the index lists, computed only then: BLAKE2 and md5 cost a
                # pass over the file each.
                ours = dist.sha256 if name == "sha256" else \
                    dist.blake2_256 if name == "blake2b_256" else dist.md5
                return theirs.lower() == ours
        return None


@dataclass
class IndexFacts:
    """What a run learned of the index's layout, so each fact costs one request per run."""

    simple_roots: set[str] = field(default_factory=set)  # seen to answer as a simple API
    devpi_volatile: dict[str, bool | None] = field(default_factory=dict)  # devpi index -> flag


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, IndexFile] = {}
        self.anchors: list[str] = []
        self.repository_version = False
        self.forms = 0
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self._in_title = tag == "title"
        if tag == "meta" and values.get("name") == "pypi:repository-version":
            self.repository_version = True
        self.forms += tag == "form"
        if tag != "a":
            return
        href = values.get("href") or ""
        self.anchors.append(href)
        url, _, fragment = href.partition("#")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if not filename.endswith(_DIST_SUFFIXES):
            return
        hashes = {}
        if "=" in fragment:
            algorithm, _, value = fragment.partition("=")
            hashes[algorithm.replace("blake2b-256", "blake2b_256")] = value
        self.files[filename] = IndexFile(filename, hashes)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


def parse_simple_page(content_type: str, body: bytes) -> dict[str, IndexFile] | None:
    """The files of a project page; None when the body is not a simple page at all."""
    if "json" in content_type:
        document = json.loads(body)
        if not isinstance(document, dict) or (not isinstance(document.get("meta"), dict)
                                              and "files" not in document):
            return None
        return {entry["filename"]: IndexFile(entry["filename"], entry["hashes"])
                for entry in simple_files(document)}
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    if parser.files or parser.repository_version:
        return parser.files
    # No distribution linked: a project page without files says so in its title (PEP 503
    # pages are "Links for <name>"); anything else is a login, error or landing page.
    return {} if not parser.forms and "links for" in parser.title.lower() else None


def looks_like_simple_page(content_type: str, body: bytes) -> bool:
    """Whether an answer's body is a simple project page (files or a "Links for" title)."""
    try:
        return parse_simple_page(content_type, body) is not None
    except (ValueError, TypeError, AttributeError):
        return False


def plain_http_instead_of_tls(url: str, failure: Transient | Unreachable) -> Unreachable | None:
    """After an https request stalled: the reason when the port speaks plain http instead."""
    parts = urlsplit(url)
    # urllib3 reports a stalled handshake as a read timeout (a TCP connect that stalls is a
    # ConnectTimeout: then nothing listens in any protocol, and a probe would stall as well).
    if parts.scheme != "https" or not isinstance(failure.error, requests.ReadTimeout):
        return None
    try:
        port = parts.port or 443
        with socket.create_connection((parts.hostname or "", port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode("ascii"))
            head = b""  # a GET, not a HEAD: nginx and Go name HTTPS in the body
            deadline = time.monotonic() + PROBE_TIMEOUT
            while len(head) < 2048 and time.monotonic() < deadline:
                chunk = sock.recv(2048)
                if not chunk:
                    break
                head += chunk
    except (OSError, ValueError, UnicodeError):
        return None
    # nginx ("The plain HTTP request was sent to HTTPS port") and Go ("Client sent an HTTP
    # request to an HTTPS server") answer plain http on their TLS ports: those ports are fine.
    lowered = head.lower()
    if head.startswith(b"HTTP/") and b"sent to https" not in lowered \
            and b"request to an https server" not in lowered:
        return Unreachable(TLS_TO_PLAIN, requests.exceptions.SSLError(TLS_TO_PLAIN))
    return None


class _Query:
    """GETs of one listing, counted; the first gives a TLS handshake `HANDSHAKE_PATIENCE`."""

    def __init__(self, index: Index, session: requests.Session, policy: RetryPolicy,
                 auth: tuple[str, str] | None) -> None:
        self.index, self.session, self.policy, self.auth = index, session, policy, auth
        self.count = 0

    def get(self, url: str, accept: str = ACCEPT) -> Answer:
        def once() -> Answer:
            self.count += 1
            timeout = self.policy.timeout
            if self.count == 1 and url.startswith("https://"):
                timeout = (min(timeout[0], HANDSHAKE_PATIENCE), timeout[1])
            answer = send(lambda: self.session.get(
                url, headers={"Accept": accept}, timeout=timeout, allow_redirects=False,
                auth=self.auth if self.index.may_receive_credentials(url) else None))
            if isinstance(answer, Transient) and answer.response is None and self.count == 1:
                return plain_http_instead_of_tls(url, answer) or answer
            return answer

        return retry(once, self.policy)

    def listing(self, known: bool, reason: str, files: Mapping[str, IndexFile] | None = None,
                replaces: bool | None = None, unreachable: Unreachable | None = None) -> Listing:
        return Listing(known, files or {}, reason, self.count, replaces, unreachable)


def fetch_listing(index: Index, project: str, session: requests.Session, policy: RetryPolicy,
                  auth: tuple[str, str] | None, facts: IndexFacts | None = None) -> Listing:
    """The project's files on the index. Never raises: an index that cannot answer is `unknown`."""
    facts = facts if facts is not None else IndexFacts()
    query = _Query(index, session, policy, auth)
    url = index.simple_page(project)
    answer = query.get(url)
    if isinstance(answer, requests.Response) and DEVPI_HEADER in answer.headers:
        return _devpi_listing(index, project, query, facts, url, answer)
    return _read_page(index, query, facts, url, answer, index.simple_url, index.simple_origin)


def _read_page(index: Index, query: _Query, facts: IndexFacts, url: str, answer: Answer,
               root: str, origin: str, replaces: bool | None = None,
               root_known: bool = False) -> Listing:
    """The listing from a project page's answer (`root`: the simple root it belongs to)."""
    if not isinstance(answer, requests.Response):
        gone: Unreachable | None = answer if isinstance(answer, Unreachable) else None
        if isinstance(answer, Transient):
            answer.discard()
            if answer.response is None and not answer.may_have_arrived and answer.error:
                gone = Unreachable(answer.reason, answer.error)  # retried, never even connected
        return query.listing(False, f"{url} did not answer ({answer.reason})",
                             unreachable=gone if index.may_receive_credentials(url) else None)
    with answer:
        status = answer.status_code
        location = answer.headers.get("Location", "")
        content_type = answer.headers.get("Content-Type", "")
        body = answer.content if status == 200 else b""
    if status in (301, 302, 303, 307, 308) and location:
        target = urljoin(url, location)
        if not index.may_receive_credentials(target) or not target.startswith(root) \
                or query.count > 4:
            return query.listing(False, f"{url} redirected to {target}: the index sends unknown "
                                 "projects elsewhere, so its answer says nothing about this one")
        return _read_page(index, query, facts, target, query.get(target), root, origin, replaces,
                          root_known)
    if status == 404:
        if index.simple_guessed and not root_known and root not in facts.simple_roots:
            if not _is_simple_root(query.get(root)):
                return query.listing(False, f"{url} answered 404 and {root} is not a simple API "
                                     f"({origin}: a guess)", replaces=replaces)
            facts.simple_roots.add(root)
        return query.listing(True, f"{url} ({origin}): no such project yet", replaces=replaces)
    if status != 200:
        return query.listing(False, f"{url} answered HTTP {status}", replaces=replaces)
    try:
        files = parse_simple_page(content_type, body)
    except (ValueError, TypeError, AttributeError):
        files = None
    if files is None:
        return query.listing(False, f"the answer of {url} is not a simple API page",
                             replaces=replaces)
    return query.listing(True, f"{url} ({origin})", files, replaces)


def _devpi_listing(index: Index, project: str, query: _Query, facts: IndexFacts, url: str,
                   first: requests.Response) -> Listing:
    """devpi: `<index URL>+simple/<project>/`, and the index's `volatile` flag from its config."""
    stage = index.upload_url_for_download_url() or index.upload_url
    stage = stage if stage.endswith("/") else stage + "/"
    root = f"{stage}+simple/"
    page = f"{root}{project}/"
    origin = "devpi (X-Devpi-* headers): <index URL>+simple/"
    answer: Answer = first
    if url != page:
        first.close()  # a guess of another layout: devpi's own is known now
        answer = query.get(page)
    if stage not in facts.devpi_volatile:
        facts.devpi_volatile[stage] = _devpi_volatile(query, stage)
    volatile = facts.devpi_volatile[stage]
    if volatile is None and isinstance(answer, requests.Response) and answer.status_code == 404:
        said = _devpi_message(answer)
        return query.listing(False, f"{page} answered 404 and {stage} is no devpi index ({said})")
    kind = {True: "volatile: an upload replaces a file of the same name",
            False: "non-volatile: files are never replaced", None: "`volatile` unknown"}[volatile]
    return _read_page(index, query, facts, page, answer, root, f"{origin}; the index is {kind}",
                      volatile, root_known=volatile is not None)


def _devpi_volatile(query: _Query, stage: str) -> bool | None:
    """devpi's index config (`GET <index URL>`, JSON): its `volatile` flag; None if unknown."""
    answer = query.get(stage.rstrip("/"), accept="application/json")
    if not isinstance(answer, requests.Response):
        if isinstance(answer, Transient):
            answer.discard()
        return None
    with answer:
        try:
            result = answer.json().get("result") if answer.status_code == 200 else None
        except (ValueError, AttributeError):
            return None
    flag = result.get("volatile") if isinstance(result, dict) else None
    return flag if isinstance(flag, bool) else None


def _devpi_message(answer: requests.Response) -> str:
    with answer:
        text = answer.text
    found = re.search(r"The (?:stage|project) [^<\n]*", text)
    return found.group(0).strip() if found else f"HTTP {answer.status_code}"


def _is_simple_root(answer: Answer) -> bool:
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
            return isinstance(document, dict) and isinstance(document.get("projects"), list)
        parser = _LinkParser()
        parser.feed(answer.content.decode("utf-8", errors="replace"))
    if parser.forms:
        return False  # a login page
    # PEP 503: every anchor of the root links to a project page; a landing page links elsewhere.
    project_links = all(href and not href.startswith(("#", "?", "mailto:", "javascript:"))
                        for href in parser.anchors)
    return parser.repository_version or "simple index" in parser.title.lower() \
        or (bool(parser.anchors) and project_links)
