"""What an index's refusal of an upload means, and what to do about it: one error per known answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import requests

from .distribution import Distribution
from .errors import AuthError, PublishError, UploadError
from .index import Index
from .wording import Wording

_GENERIC_REASONS = frozenset({"", "Bad Request", "Forbidden", "Conflict", "Unauthorized",
                              "Not Found", "OK", "Request Entity Too Large", "Payload Too Large",
                              "Method Not Allowed", "Internal Server Error", "Service Unavailable",
                              "Bad Gateway", "Gateway Timeout", "Too Many Requests"})
_MAX_REASON = 600


def reason(response: requests.Response) -> str:
    """The index's own words, once: Warehouse puts them in the status line, others in the body."""
    phrase = (response.reason or "").strip()
    if phrase not in _GENERIC_REASONS:
        return phrase[:_MAX_REASON]
    content_type = response.headers.get("Content-Type", "text")
    text = response.text if "text" in content_type or "json" in content_type else ""
    if "json" in content_type:
        found = re.search(r'"(?:message|detail|error)"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
        text = found.group(1) if found else text
    title = re.search(r"<title[^>]*>(.*?)</title>", text, flags=re.S | re.I)
    text = re.sub(r"<(script|style|title|head)[^>]*>.*?</\1>", " ", text, flags=re.S | re.I)
    text = unescape(" ".join(re.sub(r"<[^>]+>", " ", text).split()))
    if title and text.startswith(unescape(title.group(1).strip())):
        text = text[len(unescape(title.group(1).strip())):].strip()
    return (text or phrase or f"HTTP {response.status_code}")[:_MAX_REASON]


def already_exists(status: int, said: str) -> bool:
    if status == 409:
        return True
    lowered = said.lower()
    return status == 400 and ("already exist" in lowered or "overwrite" in lowered)


@dataclass(frozen=True)
class Refusal:
    """An answer to an upload that is neither a success nor "already exists"."""

    status: int
    reason: str
    location: str = ""  # of a redirect


def explain(refusal: Refusal, dist: Distribution, index: Index, wording: Wording,
            token_source: str, method: str) -> PublishError:
    """The error for a refused upload, with the fix that fits the answer."""
    code, said = refusal.status, refusal.reason
    name = f"`{dist.filename}`"
    url_setting = wording.setting("repository-url")
    if 300 <= code < 400:
        return UploadError(
            f"The index answered the upload of {name} with a redirect (HTTP {code}) to "
            f"{refusal.location or '?'}; uploads are never re-sent to another URL, because the file "
            "and credentials would go where you did not point them.",
            f"Set {url_setting} to the index's real upload URL (often the redirect target, e.g. "
            "with `https://` or a trailing `/legacy/`).",
        )
    download = index.upload_url_for_download_url()
    if code in (404, 405) and download:
        return UploadError(
            f"The index refused the upload of {name} (HTTP {code}): {index.upload_url} is a "
            "download URL (the index's simple API), not its upload URL.",
            f"Set {url_setting} to the upload URL: {download}",
        )
    if code in (401, 403):
        return _auth_error(refusal, dist, index, wording, token_source, method)
    if code == 413 or "file too large" in said.lower():
        limit_help = index.help_page("file-size-limit") or "the index's documentation"
        return UploadError(
            f"The index refused {name} ({dist.size / 1e6:.1f} MB) as too large: {said}",
            f"Make the file smaller, or ask the index for a larger file size limit (on PyPI: "
            f"{limit_help}).",
        )
    lowered = said.lower()
    if "project size too large" in lowered:
        return UploadError(
            f"The index refused {name}: {said}",
            "Delete old releases you no longer need from the project, or ask for a larger project "
            f"size limit ({index.help_page('project-size-limit') or 'see the index documentation'}).",
        )
    if "previously used" in lowered or "already been used" in lowered:
        return UploadError(
            f"The index refused {name}: {said}",
            "A file name can be used only once, even after the file is deleted: bump the version "
            "and build again.",
        )
    if "older than" in lowered and "days" in lowered:
        return UploadError(
            f"The index refused {name}: {said}",
            "New files can only be added to a recent release: publish them under a new version "
            "(a post-release such as `1.2.3.post1`).",
        )
    if "non-user identities cannot create new projects" in lowered:
        return AuthError(
            f"The index refused {name}: {said}",
            "Trusted Publishing can create a project only through a pending publisher registered "
            f"for that exact name: check that the pending publisher's project name is `{dist.project}` "
            "(as the metadata says), or register one at "
            f"{index.pending_publishers_page() or 'the index'}.",
        )
    if code == 400:
        return UploadError(
            f"The index refused {name} (HTTP {code}): {said}",
            "Fix what the index names above and build again; nothing else was changed on the index.",
        )
    if code == 404:
        return UploadError(
            f"The index refused {name} (HTTP {code}): {said}",
            f"Check {url_setting}: it must be the index's upload endpoint (PyPI: /legacy/).",
        )
    if code == 429 or code >= 500:
        return UploadError(
            f"The index refused {name} (HTTP {code}): {said}",
            f"The index is failing or rate-limiting; {wording.rerun} later (uploaded files are kept).",
        )
    return UploadError(
        f"The index refused {name} (HTTP {code}): {said}",
        f"Check {url_setting} and the index's documentation for this answer.",
    )


def is_expired_token(status: int, said: str) -> bool:
    """Warehouse's answer to a token past its expiry (a minted token lives 15 minutes)."""
    lowered = said.lower()
    return status == 403 and ("expired" in lowered or "invalid or non-existent authentication" in lowered)


def _auth_error(refusal: Refusal, dist: Distribution, index: Index, wording: Wording,
                token_source: str, method: str) -> AuthError:
    said = refusal.reason
    lowered = said.lower()
    head = f"The index refused the credentials for `{dist.filename}` (HTTP {refusal.status}"
    role = re.search(r"user '([^']*)' isn't allowed to upload to project '([^']*)'", said)
    if role:
        return AuthError(
            f"{head}): {said}",
            f"The token is valid, but the account `{role.group(1)}` is not an Owner or Maintainer "
            f"of `{role.group(2)}`: ask an owner of the project to give it one of those roles "
            "(Manage → Collaborators), or use a token of an account that has one.",
        )
    if method == "trusted-publishing":
        return AuthError(
            f"{head}): {said}",
            "The index minted the token but refused it for this project: check that the Trusted "
            f"Publisher on the index is registered for the project `{dist.project}`"
            + (f" ({index.publishing_page(str(dist.project))})." if index.publishing_page(str(dist.project))
               else "."),
        )
    if "not valid for project" in lowered or "scoped" in lowered:
        return AuthError(
            f"{head}, wrong project): {said}",
            f"The token in {token_source} is scoped to another project. Create a token scoped to "
            f"`{dist.project}` (or to your whole account) "
            f"{'at ' + (index.token_page() or '') if index.token_page() else 'on the index'} and put "
            f"it in {token_source}.",
        )
    if index.is_warehouse:
        return AuthError(
            f"{head}, bad token): {said}",
            f"The token in {token_source} is invalid, expired, or not a token of {index.name}. "
            f"Create a new API token at {index.token_page()}, put it in {token_source}"
            + (", and keep `user` as `__token__`." if wording.is_action else "."))
    return AuthError(
        f"{head}, bad credentials): {said}",
        f"The index did not accept the user name and password from {token_source}: check both "
        "(for this index they are an account's, or a token the index issued for uploads).")
