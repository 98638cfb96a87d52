"""A loopback HTTP server that answers uploads the way a given index would (status, reason, body).

Uploads get one canned answer; GETs get the pages given (a simple API, say), else 404. With
`trusted_publishing=True` it also answers Warehouse's two Trusted Publishing routes with a
success, so a run reaches the upload with a minted token (warehouse/oidc/views.py: the audience
is `{"audience": "pypi"}`, a mint `{"success": true, "token": …, "expires": …}`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes.warehouse_answers import Answer
from tests.support.loopback_http import LoopbackHttp, read_body, send, send_json
from tests.support.secret_sweep import new_secret


@dataclass
class CannedAnswer:
    status: int
    reason: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"

    @classmethod
    def of(cls, answer: Answer) -> CannedAnswer:
        """One of Warehouse's answers, as `tests/fakes/warehouse_answers.py` renders it."""
        headers = {"Location": answer.location} if answer.location else {}
        return cls(answer.status, answer.reason, answer.body, headers, answer.content_type)


@dataclass(frozen=True)
class Page:
    body: str
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class CannedIndex:
    """Answers every POST with `answer` (after reading the whole body), GETs from `pages`."""

    def __init__(self, answer: CannedAnswer, pages: dict[str, Page] | None = None,
                 trusted_publishing: bool = False, mint_refusal: Answer | None = None) -> None:
        self.answer = answer
        self.mint_refusal = mint_refusal  # the mint-token answer, instead of a token
        self.pages = dict(pages or {})
        self.trusted_publishing = trusted_publishing
        self.posts = 0
        self.gets: list[str] = []
        self.minted: list[str] = []
        self._lock = threading.Lock()
        self.http = LoopbackHttp(get=self._get, post=self._post)

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.gets.append(handler.path)
        if self.trusted_publishing and handler.path == "/_/oidc/audience":
            send_json(handler, 200, {"audience": "pypi"})
            return
        page = self.pages.get(handler.path)
        if page is None:
            send_json(handler, 404, {"message": "Not Found"})
            return
        send(handler, page.status, page.body.encode(), page.content_type, headers=page.headers)

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        read_body(handler)
        if self.trusted_publishing and handler.path == "/_/oidc/mint-token":
            if self.mint_refusal is not None:
                refusal = self.mint_refusal
                send(handler, refusal.status, refusal.body.encode(), refusal.content_type,
                     refusal.reason)
                return
            token = new_secret("pypi-")
            with self._lock:
                self.minted.append(token)
            send_json(handler, 200, {"success": True, "token": token,
                                     "expires": int(time.time()) + 900})
            return
        with self._lock:
            self.posts += 1
        answer = self.answer
        send(handler, answer.status, answer.body.encode(), answer.content_type, answer.reason,
             answer.headers)

    @property
    def root(self) -> str:
        return self.http.root

    @property
    def url(self) -> str:
        return f"{self.http.root}/legacy/"

    def __enter__(self) -> CannedIndex:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()


def simple_json(project: str, files: dict[str, str]) -> Page:
    """A PEP 691 project page listing `files` (name -> sha256), as Warehouse serves it."""
    document = {"meta": {"api-version": "1.1"}, "name": project,
                "files": [{"filename": name, "url": f"/files/{name}", "hashes": {"sha256": digest}}
                          for name, digest in files.items()]}
    return Page(json.dumps(document), "application/vnd.pypi.simple.v1+json")


def simple_root(*projects: str) -> Page:
    document = {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]}
    return Page(json.dumps(document), "application/vnd.pypi.simple.v1+json")
