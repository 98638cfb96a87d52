"""URL policy for the index URLs a user gives: https, or http on loopback only; no credentials; sane hosts."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .errors import ConfigError

EXAMPLE_UPLOAD_URL = "https://upload.pypi.org/legacy/"

_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?")
_BRACKETED = re.compile(r"\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def valid_host(host: str) -> bool:
    if _HOST.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    # Only names that cannot leave the machine: `*.localhost` may be resolved through DNS.
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_index_url(url: str, name: str, subject: str, credential_hint: str) -> str:
    """`url` with a trailing slash when it is safe to send a token to; else a ConfigError.

    `name` is the setting as its user writes it (`` `repository-url` ``), `subject` the same as the
    subject of a sentence (``Input `repository-url` ``), `credential_hint` where the token belongs
    instead of the URL, all in the front door's words.
    """
    example = f"Set {name} to the index's upload URL, such as {EXAMPLE_UPLOAD_URL}."
    if any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        raise ConfigError(f"{subject} contains whitespace or control characters.",
                          f"Set {name} to a plain URL such as {EXAMPLE_UPLOAD_URL}.")
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = "["  # an unbalanced bracket: reported as a malformed IPv6 host below
    if netloc.startswith("[") and not _BRACKETED.fullmatch(netloc):
        raise ConfigError(f"{subject} has a malformed IPv6 host: only `:port` may follow the `]`.",
                          example)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{subject} is not a valid URL.", example) from None
    if parts.scheme in ("http", "https") and host and not valid_host(host):
        raise ConfigError(f"{subject} has a host name with characters no host name can have.",
                          example)
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"{subject} must be an http(s) URL with a host; got a "
            f"{parts.scheme or 'scheme-less'} URL.", example)
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it holds a credential.
        raise ConfigError(
            f"{subject} contains a user name or password; credentials in URLs end up in logs.",
            f"Remove them from {name} and pass the token as {credential_hint}.",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            f"{subject} uses plain http to {host}; the token would cross the network unencrypted.",
            f"Use an https URL for {name} (plain http is accepted only for loopback hosts).",
        )
    return url if url.endswith("/") else url + "/"
