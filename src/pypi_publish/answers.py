"""What an index's answer to an upload means, and what to do about it: one error per known answer.

Warehouse's words are matched as warehouse/forklift/legacy.py and warehouse/macaroons/caveats
write them (pypi/warehouse @ 6b62157124ab); devpi is told by its `X-Devpi-*` headers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from html import unescape
from http import HTTPStatus

import requests

from .distribution import Distribution
from .errors import AuthError, PublishError, UploadError
from .http import Transient, Unreachable
from .index import Index, Kind
from .wording import Wording

_MAX_REASON = 600
_URL = re.compile(r"https?://[^\s'\"<>)]+[^\s'\"<>).,;]")


def reason(response: requests.Response) -> str:
    """The index's own words, once: Warehouse and devpi put them in the status line and repeat
    them in an HTML page; others (pypiserver, proxies) say them in the page only."""
    phrase = (response.reason or "").strip()
    content_type = response.headers.get("Content-Type", "")
    text = response.text if any(k in content_type for k in ("text", "json", "html")) else ""
    said = page_reason(content_type, text[:200_000])
    if phrase and not is_generic(phrase):
        if "?" in phrase:
            # The status line is ISO-8859-1 (Warehouse writes `?` for other characters): when
            # the page carries the same message in full, show the page's.
            page = " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())
            pattern = ".".join(re.escape(" ".join(part.split())) for part in phrase.split("?"))
            full = [m.group(0) for m in re.finditer(pattern, page) if m.group(0) != phrase]
            return (full[0] if full else phrase)[:_MAX_REASON]
        return phrase[:_MAX_REASON]
    return (said or phrase or f"HTTP {response.status_code}")[:_MAX_REASON]


def is_generic(phrase: str) -> bool:
    """A standard reason phrase (or none): it names the status, not the cause."""
    return phrase.lower() in _GENERIC


_GENERIC = frozenset({status.phrase.lower() for status in HTTPStatus}
                     | {"", "none", "payload too large", "content too large", "unprocessable content"})


def already_exists(status: int, said: str) -> bool:
    """409 anywhere; 400 with "already exist" (Warehouse, pypiserver for twine, Gitea) or GitLab's
    "has already been taken"; Nexus's "does not allow updating assets" / "cannot be updated"."""
    if status == 409:
        return True
    lowered = said.lower()
    return status == 400 and any(words in lowered for words in (
        "already exist", "already been taken", "not allow updating", "cannot be updated"))


@dataclass(frozen=True)
class Refusal:
    """An answer to an upload that is neither a success nor "already exists"."""

    status: int
    reason: str
    location: str = ""  # of a redirect
    devpi: bool = False  # the answer came from devpi (its `X-Devpi-*` headers)


def refusal_of(response: requests.Response, said: str) -> Refusal:
    return Refusal(response.status_code, said, response.headers.get("Location", ""),
                   "X-Devpi-Server-Version" in response.headers)


def explain(refusal: Refusal, dist: Distribution, index: Index, wording: Wording,
            token_source: str, method: str, user: str = "__token__") -> PublishError:
    """The error for a refused upload (or a 200 from a URL that stores nothing), with its fix."""
    code, said, name = refusal.status, refusal.reason, f"`{dist.filename}`"
    url_setting, lowered = wording.setting("repository-url"), said.lower()
    if 300 <= code < 400:
        return UploadError(
            f"The index answered the upload of {name} with a redirect (HTTP {code}) to "
            f"{refusal.location or '?'}; uploads are never re-sent to another URL, because the file "
            "and credentials would go where you did not point them.",
            f"Set {url_setting} to the index's real upload URL (often the redirect target, e.g. "
            "with `https://` or a trailing `/legacy/`).")
    meant = index.upload_url_for_download_url()
    if meant and code in (200, 404, 405):
        # devpi answers a POST to `+simple/<p>/` with the simple page, Warehouse's upload host
        # one to `/` with a page about uploads: a 200 there stores nothing.
        what = "stores nothing sent there (HTTP 200)" if code == 200 else f"refused it (HTTP {code})"
        return UploadError(
            f"{index.upload_url} is a download URL (where installers read the index), not its "
            f"upload URL: the index {what} for {name}.",
            f"Set {url_setting} to the upload URL: {meant}")
    if code in (401, 403) or "invalid api token" in lowered:
        return _auth_error(refusal, dist, index, wording, token_source, method, user)
    if "non-user identities cannot create new projects" in lowered:
        return AuthError(
            f"The index refused {name}: {said}",
            "Trusted Publishing creates a project only through a pending publisher registered for "
            f"exactly its name: register one for `{dist.project}` (the name in the metadata) at "
            f"{index.pending_publishers_page() or 'the index'}, or correct the name of the pending "
            "publisher or of the project so that both match.")
    too_large = code == 413 or "file too large" in lowered
    size = f"{dist.size / 1e6:.1f} MB" if dist.size >= 100_000 else f"{dist.size:,} bytes"
    return UploadError(
        f"The index refused {name} ({size}) as too large: {said}" if too_large
        else f"The index refused {name} (HTTP {code}): {said}",
        _upload_hint(refusal, dist, index, wording))


def _upload_hint(refusal: Refusal, dist: Distribution, index: Index, wording: Wording) -> str:
    code, said, setting = refusal.status, refusal.reason, wording.setting("repository-url")
    lowered, found = said.lower(), _URL.search(said)
    link = unescape(found.group(0)) if found else ""
    limits = link or index.help_page("file-size-limit") or "see the index documentation"
    old = re.search(r"releases older than (\d+) days", said)
    if "file too large" in lowered:
        return (f"Make the file smaller, or request a file size limit increase for "
                f"`{dist.project}` ({limits} says how and where to ask).")
    if code == 413:
        return ("Make the file smaller, or ask the index for a larger file size limit (the limit "
                "may be a proxy's in front of the index).")
    if "project size too large" in lowered:
        return ("Delete files of old releases the project no longer needs, or request a project "
                f"size limit increase ({link or 'see the index documentation'} says how and where "
                "to ask).")
    if "previously used" in lowered or "already been used" in lowered:
        return ("A file name can be used only once, even after the file is deleted: bump the "
                "version and build again.")
    if old:
        return (f"Files can be added to a release only in its first {old.group(1)} days: publish "
                f"them under a new version (a post-release such as `{dist.version}.post1` when "
                "only the files changed).")
    if code == 400:
        return "Fix what the index names above and build again; nothing else was changed on the index."
    if code == 404 and refusal.devpi and "stage" in lowered:
        return (f"devpi has no such index: check the user and index names in {setting} (devpi's "
                "upload URL is `<server>/<user>/<index>/`).")
    if code == 404:
        return f"Check {setting}: it must be the index's upload endpoint (PyPI: /legacy/)."
    if code == 429 or code >= 500:
        return f"The index is failing or rate-limiting; {wording.rerun} later (uploaded files are kept)."
    return f"Check {setting} and the index's documentation for this answer."


def is_expired_token(status: int, said: str) -> bool:
    """Warehouse's answer to a token past its expiry (a minted token lives 15 minutes)."""
    lowered = said.lower()
    return status == 403 and ("expired" in lowered or "invalid or non-existent authentication" in lowered)


def _auth_error(refusal: Refusal, dist: Distribution, index: Index, wording: Wording,
                source: str, method: str, user: str) -> AuthError:
    said, lowered = refusal.reason, refusal.reason.lower()
    head = f"The index refused the credentials for `{dist.filename}` (HTTP {refusal.status}"
    project, user_setting = f"`{dist.project}`", wording.setting("user")
    new_token = f"at {index.token_page()}" if index.token_page() else "on the index"
    role = re.search(r"user '([^']*)' isn't allowed to upload to project '([^']*)'", said)
    if role:
        return AuthError(
            f"{head}, no upload role): {said}",
            f"The token is fine, but its account `{role.group(1)}` is neither an Owner nor a "
            f"Maintainer of `{role.group(2)}`: ask an Owner to invite it with one of those roles "
            f"({index.collaborators_page(role.group(2)) or 'on the project page'}), or use a token "
            "of an account that has one.")
    if "oidc scoped token is not valid" in lowered or "given token isn't allowed" in lowered:
        return AuthError(
            f"{head}, publisher of another project): {said}",
            f"Trusted Publishing minted the token for a publisher that is not registered for "
            f"{project}: add this workflow as a Trusted Publisher of {project} "
            f"({index.publishing_page(str(dist.project)) or 'in its settings on the index'}), or, "
            "for a project that does not exist yet, as a pending publisher of exactly that name.")
    if "project-scoped token is not valid" in lowered:
        return AuthError(
            f"{head}, token of another project): {said}",
            f"The API token in {source} is scoped to another project: create one scoped to "
            f"{project} (or to your account) {new_token} and use it as {source}.")
    if "username/password authentication is no longer supported" in lowered:
        return AuthError(
            f"{head}, password login): {said}",
            f"{index.name} takes API tokens only: set {user_setting} to `__token__`"
            + (f" (`{user}` was sent)" if user != "__token__" else "")
            + f" and an API token as {source}.")
    if method == "trusted-publishing":
        page = index.publishing_page(str(dist.project))
        return AuthError(
            f"{head}): {said}",
            "The index minted the token but refused it for this project: check that the Trusted "
            f"Publisher on the index is registered for the project {project}"
            + (f" ({page})." if page else "."))
    if refusal.devpi:
        hint = (f"devpi logs in with a devpi user name and its password (or a `devpi login` "
                f"token), not `__token__`: set {user_setting} to the devpi user, and its password "
                f"as {source}." if user == "__token__" else
                f"devpi knows the user `{user}`, but the index does not let it upload: add it to "
                "the index's `acl_upload`." if refusal.status == 403 else
                f"devpi did not accept the password of the user `{user}` from {source}: check the "
                f"user name ({user_setting}) and the password.")
        return AuthError(f"{head}, bad user name or password): {said}", hint)
    if index.is_warehouse or "invalid api token" in lowered \
            or "invalid or non-existent authentication" in lowered:
        return AuthError(
            f"{head}, bad token): {said}",
            f"The token in {source} is not a valid {index.name if index.is_warehouse else 'API'} "
            "token (mistyped, revoked, expired, or made on another index: PyPI and TestPyPI have "
            f"separate accounts). Create a new API token for this project {new_token} and use it "
            f"as {source}" + (f", with {user_setting} `__token__`." if user != "__token__" else "."))
    return AuthError(
        f"{head}, bad credentials): {said}",
        f"The index did not accept the user name and password from {source} (user `{user}`): check "
        "both (for this index they are an account's, or a token the index issued for uploads).")


# -- no answer at all ------------------------------------------------------------------------------

def unreachable_error(failure: Transient | Unreachable, index: Index, wording: Wording,
                      filename: str = "", attempts: int = 0) -> UploadError:
    """No answer from the index: the cause, where (host and port), and what to check."""
    where = index.upload_url if index.address in index.upload_url \
        else f"{index.upload_url} ({index.address})"
    message = (f"Could not upload `{filename}` to {where}: {failure.reason} (after {attempts} "
               "attempt(s))." if attempts else
               f"Could not reach the index at {where}: {failure.reason}; nothing was uploaded.")
    return UploadError(message, _network_hint(failure, index, wording))


def _network_hint(failure: Transient | Unreachable, index: Index, wording: Wording) -> str:
    said, setting, host = failure.reason, wording.setting("repository-url"), index.address
    if "does not speak TLS" in said:
        return (f"{host} answers in plain http: use `http://` only for loopback, or fix the port "
                f"in {setting}.")
    if isinstance(failure.error, requests.exceptions.SSLError):
        if "host name" in said:
            return f"The certificate is for another host: check the host name in {setting}."
        return ("If the index uses a private certificate authority, point `SSL_CERT_FILE` or "
                "`REQUESTS_CA_BUNDLE` at its CA bundle. Otherwise check the URL's host name.")
    if said == "connection refused":
        return (f"Nothing accepts connections at {host}: check the host and port in {setting}, "
                f"and that the index is running and reachable from {wording.here}.")
    if said.startswith("host name could not be resolved for now"):
        return f"The DNS look-up failed on {wording.here} for now; {wording.rerun} later."
    if said.startswith("host name could not be resolved"):
        return (f"The host name in {setting} is not known on {wording.here}: check it for a typo, "
                "or whether it resolves only inside another network.")
    return (f"Check {setting} and that the index is reachable from {wording.here}; transient "
            f"failures were retried. {wording.rerun.capitalize()}: files already uploaded are "
            "recognised and kept.")


_REPLACES = {Kind.DEVPI: "a volatile devpi index replaces a file uploaded again",
             Kind.ARTIFACTORY: "Artifactory replaces files for users with DELETE permission",
             Kind.NEXUS: "Nexus replaces files where its write policy allows redeploy",
             Kind.OTHER: "an index of unknown kind may replace files (pypiserver with "
                         "`--overwrite` does)"}


def unsafe_skip_existing(reason: str, index: Index, replaces: bool | None,
                         wording: Wording) -> UploadError:
    """skip-existing asked, the listing unknown, and uploads there may replace files."""
    skip = wording.setting("skip-existing: true")
    why = "this devpi index is volatile: it replaces a file uploaded again" if replaces \
        else _REPLACES.get(index.kind, "this index may replace files")
    return UploadError(
        f"{skip} cannot be honoured safely: the index could not list the project's files "
        f"({reason}), and {why}, so sending a file it has would overwrite it. Nothing was uploaded.",
        f"Set {wording.setting('index-url')} to the index's simple API (the URL pip installs from) "
        f"so its files are checked before anything is sent, or publish without {skip} if "
        "replacing or refusing existing files is what the index should do.")


# -- the one reason of an error page ---------------------------------------------------------------
# pyramid/httpexceptions.py: the `explanation` Pyramid's pages (Warehouse, devpi) print before
# the detail; bottle's page (pypiserver) puts "Sorry, the requested URL … caused an error:" first.
_BOILERPLATE = tuple(" ".join(text.split()) for text in (
    "The server could not comply with the request since it is either malformed or otherwise "
    "incorrect.", "Access was denied to this resource.", "The resource could not be found.",
    "This resource is no longer available. No forwarding address is given.",
    "This server could not verify that you are authorized to access the document you requested. "
    "Either you supplied the wrong credentials (e.g., bad password), or your browser does not "
    "understand how to supply the credentials required.",
    "The action could not be performed because there were too many requests by the client."))
_PREAMBLE = re.compile(r"Sorry, the requested URL .*? caused an error:", re.S)
_STATUS_HEADING = re.compile(r"(?:Error:\s*)?\d{3}\s+(.*)", re.S)
_SIGNATURE = re.compile(r"^[\w.-]+(?:/[\w.-]+)?$")  # "nginx/1.25.3" under a proxy's page


def page_reason(content_type: str, text: str) -> str:
    """The cause an error page states, once: its heading when that is more than a status, else
    its text without the framework's boilerplate, repeated sentences or a server signature."""
    if "json" in content_type:
        return _json_message(text)
    if "html" not in content_type and "<html" not in text[:1000].lower():
        lines = text.strip().split("\n", 1)
        heading = _STATUS_HEADING.fullmatch(lines[0].strip())
        if heading and not is_generic(heading.group(1).strip()):
            return heading.group(1).strip()  # Pyramid's text/plain page
        return _clean(lines[1] if heading and len(lines) > 1 else text)
    for tag in ("h1", "title"):
        found = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, flags=re.S | re.I)
        heading = _STATUS_HEADING.fullmatch(_clean(found.group(1))) if found else None
        if heading and not is_generic(heading.group(1).strip()):
            return heading.group(1).strip()
    found = re.search(r"<pre[^>]*>(.*?)</pre>", text, flags=re.S | re.I)
    if found and not is_generic(_clean(found.group(1))):
        return _clean(found.group(1))
    body = re.sub(r"<(script|style|title|head|h1)[^>]*>.*?</\1>", " ", text, flags=re.S | re.I)
    return _clean(re.sub(r"<[^>]+>", " ", body))


def _clean(text: str) -> str:
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())
    text = _PREAMBLE.sub(" ", text)
    for boilerplate in _BOILERPLATE:
        text = text.replace(boilerplate, " ")
    seen: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if sentence and sentence not in seen:
            seen.append(sentence)
    text = " ".join(seen).strip()
    return "" if is_generic(text) or _SIGNATURE.fullmatch(text) else text


def _json_message(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        document = {**errors[0], **document}
    heading = document.get("code")  # Pyramid's JSON page: "400 File already exists …"
    match = _STATUS_HEADING.fullmatch(heading) if isinstance(heading, str) else None
    if match and not is_generic(match.group(1).strip()):
        return match.group(1).strip()
    for key in ("message", "detail", "error", "description"):
        value = document.get(key)
        if isinstance(value, str) and _clean(value):
            return _clean(value)
    return ""
