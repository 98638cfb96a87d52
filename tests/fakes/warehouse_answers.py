"""What Warehouse (PyPI's server) answers to uploads and token exchanges: status, reason, type, body.

Read from pypi/warehouse at commit 6b62157124ab7865029afeeadf282bce27d601d9 (2026-08-21).

How an upload refusal is made (warehouse/forklift/utils.py `_exc_with_message`): a Pyramid
`HTTPException` whose `detail` is the message and whose status line is `"{code} {message}"`, the
message encoded to ISO-8859-1 with `replace` (so any other character is `?` in the reason). No
error template of Warehouse's applies on the upload route (warehouse/views.py `httpexception_view`
finds no `400.html` and returns the exception; warehouse/legacy/api/pypi.py `forbidden_legacy`
returns a 403 as it is when the form has `:action`), so Pyramid renders the body
(pyramid/httpexceptions.py `HTTPException.prepare`, Warehouse pins pyramid 2.1): HTML for
`Accept: */*` (what requests and twine send), JSON or plain text for other Accept headers.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass

WAREHOUSE_COMMIT = "6b62157124ab7865029afeeadf282bce27d601d9"
WAREHOUSE_DATE = "2026-08-21"
HELP = "https://pypi.org/help/"  # request.help_url: the "help" route on warehouse.domain
TEST_HELP = "https://test.pypi.org/help/"
USER_DOCS = "https://docs.pypi.org"  # config.py: userdocs.domain default
CORE_METADATA = "https://packaging.python.org/specifications/core-metadata"
TWINE_ACCEPT = "*/*"

# pyramid/httpexceptions.py: each class's `title` and `explanation`.
TITLES = {200: "OK", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
          410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests"}
EXPLANATIONS = {
    200: "",
    308: "The resource has been moved to",
    400: "The server could not comply with the request since it is either malformed or "
         "otherwise incorrect.",
    403: "Access was denied to this resource.",
    410: "This resource is no longer available.  No forwarding address is given.",
    429: "The action could not be performed because there were too many requests by the "
         "client.",
}


@dataclass(frozen=True)
class Answer:
    """One answer as it reaches a client that sent `accept`."""

    key: str
    status: int
    reason: str  # the status line after the code
    content_type: str
    body: str
    detail: str = ""  # the message inside the body (usually the reason, before ISO-8859-1)
    location: str = ""  # the Location header of a redirect


def status_reason(message: str) -> str:
    """warehouse/forklift/utils.py `_exc_with_message`: the message, made ISO-8859-1 safe."""
    return message.encode("iso-8859-1", "replace").decode("iso-8859-1")


def negotiate(accept: str | None) -> str:
    """The type Pyramid picks: webob's `acceptable_offers(["text/html", "application/json"])`,
    each offer judged by the most specific range that matches it, then text/plain."""
    if not accept:
        return "text/plain"
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = float(value)
        ranges.append((media.lower(), quality))
    chosen: list[tuple[float, int, str]] = []
    for order, offer in enumerate(("text/html", "application/json")):
        kind = offer.split("/")[0]
        for pattern in (offer, f"{kind}/*", "*/*"):  # most specific first
            qualities = [q for media, q in ranges if media == pattern]
            if qualities:
                if max(qualities) > 0:
                    chosen.append((-max(qualities), order, offer))
                break
    return sorted(chosen)[0][2] if chosen else "text/plain"


def _html_escape(text: str) -> str:
    # webob/util.py `html_escape`: quotes escaped too, and every non-ASCII character as `&#N;`.
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


def render(key: str, status: int, message: str, accept: str | None = TWINE_ACCEPT,
           location: str = "", detail: str | None = None) -> Answer:
    """`_exc_with_message(HTTP…, message)` as Pyramid sends it (pyramid/httpexceptions.py
    `HTTPException.prepare` with its body, plain, HTML and JSON templates; a redirect's body is
    `${explanation} ${location}; you should be redirected automatically.`)."""
    detail = message if detail is None else detail
    reason = status_reason(message) if message else TITLES[status]
    status_line = f"{status} {reason}"
    kind = negotiate(accept)
    escape: Callable[[str], str] = _html_escape if kind == "text/html" else str
    br = "<br/>" if kind == "text/html" else "\n"
    explanation = escape(EXPLANATIONS[status])
    if status == 308:
        inner = (f"{explanation} {escape(location)}; you should be redirected automatically.\n"
                 f"{escape(detail)}\n")
    else:
        inner = f"{explanation}{br}{br}\n{escape(detail)}\n\n"
    if kind == "text/html":
        body = (f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n"
                f"  <h1>{status_line}</h1>\n  {inner}\n </body>\n</html>")
        content_type = "text/html; charset=UTF-8"
    elif kind == "application/json":
        body = json.dumps({"message": inner, "code": status_line, "title": TITLES[status]})
        content_type = "application/json"
    else:
        body = f"{status_line}\n\n{inner}"
        content_type = "text/plain; charset=UTF-8"
    return Answer(key, status, reason, content_type, body, detail, location)


# --- Authentication (warehouse/forklift/decorators.py, warehouse/accounts/security_policy.py,
# --- warehouse/macaroons/). A token the index cannot find or parse leaves no identity.

def invalid_auth(help_page: str = HELP, accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/decorators.py `ensure_uploads_allowed`: `request.identity is None` (macaroons/
    # security_policy.py `identity`: no `__token__` user, no `pypi-` prefix, not found, disabled).
    return render("invalid-auth", 403, "Invalid or non-existent authentication information. "
                  f"See {help_page}#invalid-auth for more information.", accept)


def password_auth(help_page: str = HELP, accept: str | None = TWINE_ACCEPT) -> Answer:
    # accounts/security_policy.py `BasicAuthSecurityPolicy.identity`: a user name other than
    # `__token__`. It sets the status line only (`_format_exc_status`): the body has no detail.
    message = ("Username/Password authentication is no longer supported. Migrate to API Tokens "
               f"or Trusted Publishers instead. See {help_page}#apitoken and {help_page}#trusted-publishers")
    return render("password-auth", 403, message, accept, detail="")


def invalid_token(reason: str, key: str = "invalid-token",
                  accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/legacy.py `file_upload`: a denied permission with a reason shows `allowed.msg`,
    # which macaroons/security_policy.py `permits` makes `f"Invalid API Token: {exc}"` from the
    # first caveat that fails (macaroons/caveats/__init__.py `verify`; pymacaroons stops there).
    return render(key, 403, f"Invalid API Token: {reason}", accept)


def expired_token(accept: str | None = TWINE_ACCEPT) -> Answer:
    # macaroons/caveats/__init__.py `Expiration.verify` (Trusted Publishing tokens: 15 minutes).
    return invalid_token("token is expired", "expired-token", accept)


def token_for_other_project(project: str, accept: str | None = TWINE_ACCEPT) -> Answer:
    # macaroons/caveats/__init__.py `ProjectName.verify` / `ProjectID.verify`; `{name!r}`.
    return invalid_token(f"project-scoped token is not valid for project: {project!r}",
                         "token-for-other-project", accept)


def oidc_token_for_other_project(project: str, accept: str | None = TWINE_ACCEPT) -> Answer:
    # macaroons/caveats/__init__.py `OIDCPublisher.verify`: the publisher's projects lack it.
    return invalid_token(f"OIDC scoped token is not valid for project '{project}'",
                         "oidc-token-for-other-project", accept)


def deleted_token(accept: str | None = TWINE_ACCEPT) -> Answer:
    # macaroons/services.py `verify`: found at identity time, gone when permissions are checked.
    return invalid_token("deleted or nonexistent macaroon", "deleted-token", accept)


def user_not_allowed(user: str, project: str, help_page: str = HELP,
                     accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/legacy.py `file_upload`: the ACL denies (no Owner/Maintainer role; no reason).
    return render("user-not-allowed", 403, f"The user '{user}' isn't allowed to upload to project "
                  f"'{project}'. See {help_page}#project-name for more information.", accept)


def token_not_allowed(project: str, help_page: str = HELP, accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/legacy.py `file_upload`: the same denial for a non-user (publisher) identity.
    return render("token-not-allowed", 403, f"The given token isn't allowed to upload to project "
                  f"'{project}'. See {help_page}#project-name for more information.", accept)


def non_user_identity_new_project(accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/legacy.py `file_upload`: no such project and `not request.user`.
    return render("non-user-identity-new-project", 400,
                  "Non-user identities cannot create new projects. This was probably caused by "
                  "successfully using a pending publisher but specifying the project name "
                  "incorrectly (either in the publisher or in your project's metadata). Please "
                  "ensure that both match. "
                  "See: https://docs.pypi.org/trusted-publishers/troubleshooting/", accept)


# --- Files (warehouse/forklift/legacy.py `file_upload`).

def upload_ok(accept: str | None = TWINE_ACCEPT) -> Answer:
    # `return HTTPOk(body="\n".join(warnings))`: no warnings are collected today, and an empty
    # body makes Pyramid render its template, so a success looks like a bodiless 200 page.
    return render("upload-ok", 200, "", accept)


def identical_reupload(accept: str | None = TWINE_ACCEPT) -> Answer:
    # `_is_duplicate_file` is True (same name, sha256 and blake2_256): `request.tm.doom()` and
    # `return HTTPOk()`: the same 200 as a success, and nothing is stored.
    return render("identical-reupload", 200, "", accept)


def file_exists(filename: str, blake2_256: str, help_page: str = HELP,
                accept: str | None = TWINE_ACCEPT) -> Answer:
    # `_is_duplicate_file` is False: a file has this name, or this blake2_256 under another
    # name (then `filename` is the new name). The text must start "File already exists" for
    # twine's --skip-existing (comment in the source, pypi/warehouse#3482).
    return render("file-exists", 400, f"File already exists ({filename!r}, with blake2_256 hash "
                  f"{blake2_256!r}). See {help_page}#file-name-reuse for more information.", accept)


def filename_reused(help_page: str = HELP, accept: str | None = TWINE_ACCEPT) -> Answer:
    # The name is in the `Filename` log of deleted files (text since d029959d8, 2025-10-23).
    return render("filename-reused", 400, "This filename was previously used by a file that has "
                  f"since been deleted. Use a different version. See {help_page}#file-name-reuse for "
                  "more information.", accept)


def filename_reused_before_2025_10(help_page: str = HELP, accept: str | None = TWINE_ACCEPT) -> Answer:
    # The same check's text from 2e6dc9856 (2018-05-16) until d029959d8.
    return render("filename-reused-legacy", 400, "This filename has already been used, use a "
                  f"different version. See {help_page}#file-name-reuse for more information.", accept)


def file_too_large(project: str, limit_mib: int = 100, accept: str | None = TWINE_ACCEPT) -> Answer:
    # `file_size > file_size_limit`; default constants.py MAX_FILESIZE = 100 MiB.
    return render("file-too-large", 400, f"File too large. Limit for project {project!r} is "
                  f"{limit_mib} MB. See {USER_DOCS}/project-management/storage-limits"
                  "#requesting-a-file-size-limit-increase for more information.", accept)


def project_too_large(project: str, limit_gib: int = 10,
                      accept: str | None = TWINE_ACCEPT) -> Answer:
    # `file_size + project.total_size > project_size_limit`; MAX_PROJECT_SIZE = 10 GiB. Unlike
    # the others this text ends with the URL: no " for more information.".
    return render("project-too-large", 400, f"Project size too large. Limit for project "
                  f"{project!r} total size is {limit_gib} GB. See {USER_DOCS}/project-management/"
                  "storage-limits#requesting-a-project-size-limit-increase", accept)


def release_too_old(days: int = 14, accept: str | None = TWINE_ACCEPT) -> Answer:
    # `release.created` older than MAXIMUM_AGE_FOR_NEW_UPLOADS_DAYS (e0ee5f839, 2026-07-08).
    return render("release-too-old", 400,
                  f"Uploading new files to releases older than {days} days is not allowed.", accept)


def only_one_sdist(accept: str | None = TWINE_ACCEPT) -> Answer:
    return render("only-one-sdist", 400, "Only one sdist may be uploaded per release.", accept)


def invalid_attestations(detail: str, accept: str | None = TWINE_ACCEPT) -> Answer:
    # `AttestationUploadError` from attestations/services.py, e.g. "Attestations are only
    # supported when using Trusted Publishing" or "Could not verify the uploaded artifact
    # using the included attestation: …".
    return render("invalid-attestations", 400,
                  f"Invalid attestations supplied during upload: {detail}", accept)


# --- Metadata. Two wordings: the upload form's fields (`UploadForm`, forklift/forms.py) and
# --- the metadata proper (forklift/metadata.py `parse`, `InvalidMetadata`).

def invalid_form_value(value: str, field: str, error: str,
                       accept: str | None = TWINE_ACCEPT) -> Answer:
    # `form.validate()` fails on a field with a description (only Name has one today); values
    # over 60 characters are shortened to their first and last 30 around "...".
    shown = value[:30] + "..." + value[-30:] if len(value) > 60 else value
    return render("invalid-form-value", 400, f"{shown!r} is an invalid value for {field}. "
                  f"Error: {error} See {CORE_METADATA} for more information.", accept)


def invalid_metadata(error: str, accept: str | None = TWINE_ACCEPT) -> Answer:
    # `metadata.parse` raised: the first error of the first field in _error_message_order
    # (metadata-version, name, version), else of the first field by name; a "." is added when
    # missing. (Local versions point at the version-specifiers page instead.)
    text = error if error.endswith(".") else error + "."
    return render("invalid-metadata", 400, f"{text} See {CORE_METADATA} for more information.",
                  accept)


def invalid_classifier(classifier: str, accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/metadata.py `_validate_metadata`: `f"{c!r} is not a valid classifier."`.
    return invalid_metadata(f"{classifier!r} is not a valid classifier.", accept)


def missing_trailing_slash(accept: str | None = TWINE_ACCEPT) -> Answer:
    # forklift/legacy.py `missing_trailing_slash_redirect`: POST /legacy answers 308 to /legacy/.
    return render("missing-trailing-slash", 308, "An upload was attempted to /legacy but the "
                  "expected upload URL is /legacy/ (with a trailing slash)", accept, "/legacy/")


# --- Trusted Publishing (warehouse/oidc/views.py): JSON through the "json" renderer, which
# --- config.py sets to `json.dumps(sort_keys=True, separators=(",", ":"))`.

def mint_token_refusal(code: str, description: str) -> Answer:
    # oidc/views.py `_invalid`: `request.response.status = 422`.
    body = json.dumps({"message": "Token request failed",
                       "errors": [{"code": code, "description": description}]},
                      sort_keys=True, separators=(",", ":"))
    return Answer(f"mint-token-{code}", 422, "Unprocessable Entity", "application/json", body)


def mint_token_pull_request_target() -> Answer:
    # oidc/models/github.py `_check_event_name`, a required claim check; raised as
    # InvalidPublisherError through oidc/services.py `find_publisher` into `mint_token`.
    return mint_token_refusal("invalid-publisher", "valid token, but no corresponding publisher "
                              "(Publishing from a workflow invoked via 'pull_request_target' is "
                              "not supported.)")


def audience_disabled() -> Answer:
    # oidc/views.py `oidc_audience`: `HTTPForbidden(json=…)`, which webob serialises compactly.
    return Answer("audience-disabled", 403, "Forbidden", "application/json",
                  '{"message":"Trusted publishing functionality not enabled"}')
