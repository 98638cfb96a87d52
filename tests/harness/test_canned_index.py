"""The canned index sends Warehouse's answers byte for byte as the catalog renders them."""

from __future__ import annotations

import requests

from tests.fakes import warehouse_answers as wa
from tests.support.canned_index import CannedAnswer, CannedIndex, Page


def test_an_upload_gets_the_catalogs_status_line_type_and_page() -> None:
    answer = wa.file_exists("x-1.0-py3-none-any.whl", "ab" * 32)
    with CannedIndex(CannedAnswer.of(answer)) as index:
        got = requests.post(index.url, data=b"form", timeout=10)
    assert (got.status_code, got.reason) == (answer.status, answer.reason)
    assert got.headers["Content-Type"] == answer.content_type
    assert got.text == answer.body
    assert index.posts == 1


def test_pages_answer_gets_and_anything_else_is_404() -> None:
    with CannedIndex(CannedAnswer.of(wa.upload_ok()), {"/simple/": Page("<a href='p/'>p</a>")}) as index:
        page = requests.get(f"{index.root}/simple/", timeout=10)
        missing = requests.get(f"{index.root}/simple/p/", timeout=10)
    assert (page.status_code, page.text) == (200, "<a href='p/'>p</a>")
    assert missing.status_code == 404
    assert index.gets == ["/simple/", "/simple/p/"]


def test_trusted_publishing_routes_mint_a_token_or_give_the_refusal() -> None:
    refusal = wa.mint_token_pull_request_target()
    with CannedIndex(CannedAnswer.of(wa.upload_ok()), trusted_publishing=True) as index:
        audience = requests.get(f"{index.root}/_/oidc/audience", timeout=10).json()
        minted = requests.post(f"{index.root}/_/oidc/mint-token", json={}, timeout=10).json()
        index.mint_refusal = refusal
        refused = requests.post(f"{index.root}/_/oidc/mint-token", json={}, timeout=10)
    assert audience == {"audience": "pypi"}
    assert minted["success"] is True and minted["token"] == index.minted[0]
    assert (refused.status_code, refused.text) == (422, refusal.body)
    assert index.posts == 0
