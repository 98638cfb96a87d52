"""The JSON the run reads from services, as TypedDicts, and the readers that check an answer has that shape.

Each reader takes the decoded JSON (any value) and returns the TypedDict with only the fields
whose types are right, so code past this point never meets a wrong type.
"""

from __future__ import annotations

from typing import TypedDict

JSON = object


class GitHubTokenAnswer(TypedDict):
    """GitHub's ID token service: `{"count": …, "value": "<JWT>"}`."""

    value: str


class AudienceAnswer(TypedDict):
    """The index's `GET /_/oidc/audience`."""

    audience: str


class MintError(TypedDict):
    code: str
    description: str


class MintAnswer(TypedDict, total=False):
    """The index's `POST /_/oidc/mint-token`: a token, or a refusal with reasons."""

    success: bool
    token: str
    expires: int
    message: str
    errors: list[MintError]


class SimpleFile(TypedDict):
    """One file of a PEP 691 project page."""

    filename: str
    hashes: dict[str, str]


_MAX_REASONS = 10
_MAX_TEXT = 500


def text(value: JSON) -> str:
    """Any JSON value as bounded text for a message."""
    import json

    rendered = value if isinstance(value, str) else json.dumps(value)
    return rendered if len(rendered) <= _MAX_TEXT else rendered[:_MAX_TEXT] + "…"


def github_token_answer(value: JSON) -> GitHubTokenAnswer | None:
    if isinstance(value, dict) and isinstance(value.get("value"), str):
        return {"value": value["value"]}
    return None


def audience_answer(value: JSON) -> AudienceAnswer | None:
    if isinstance(value, dict) and isinstance(value.get("audience"), str) and value["audience"]:
        return {"audience": value["audience"]}
    return None


def mint_answer(value: JSON) -> MintAnswer:
    answer: MintAnswer = {}
    if not isinstance(value, dict):
        return answer
    if isinstance(value.get("success"), bool):
        answer["success"] = value["success"]
    if isinstance(value.get("token"), str) and value["token"]:
        answer["token"] = value["token"]
    expires = value.get("expires")
    if isinstance(expires, int) and not isinstance(expires, bool):
        answer["expires"] = expires
    if isinstance(value.get("message"), str):
        answer["message"] = value["message"]
    errors = value.get("errors")
    if isinstance(errors, list):
        answer["errors"] = [_mint_error(error) for error in errors[:_MAX_REASONS]]
    elif errors is not None:
        answer["errors"] = [{"code": "?", "description": text(errors)}]
    return answer


def _mint_error(value: JSON) -> MintError:
    if isinstance(value, dict):
        return {"code": text(value.get("code", "?")), "description": text(value.get("description", ""))}
    return {"code": "?", "description": text(value)}


def simple_files(value: JSON) -> list[SimpleFile]:
    """The files of a PEP 691 JSON project page; entries of the wrong shape are left out."""
    files = value.get("files") if isinstance(value, dict) else None
    if not isinstance(files, list):
        return []
    found: list[SimpleFile] = []
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        hashes = entry.get("hashes")
        clean = {k: v for k, v in hashes.items() if isinstance(k, str) and isinstance(v, str)} \
            if isinstance(hashes, dict) else {}
        found.append({"filename": entry["filename"], "hashes": clean})
    return found


def jwt_claims(token: str) -> dict[str, JSON]:
    """A JWT's payload, unverified: only to explain a refusal or pick a provider, never to trust."""
    import base64
    import binascii
    import json

    try:
        payload = token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}
