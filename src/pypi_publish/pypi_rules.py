"""What PyPI (Warehouse) refuses beyond the core-metadata spec, in the words PyPI answers with.

Warehouse parses the upload form back into metadata, validates it with `packaging`, then applies
its own rules (warehouse/forklift/metadata.py, _validate_metadata; warehouse/forklift/forms.py,
UploadForm; warehouse/forklift/legacy.py, file_upload). These are those rules, for the metadata
twine's form carries. Checks that need a library import it only when the quick test is unsure.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator
from typing import Literal

from packaging.metadata import InvalidMetadata, Metadata, RawMetadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .form import safe_name

# warehouse/forklift/metadata.py, SUPPORTED_METADATA_VERSIONS: `packaging` knows newer ones.
SUPPORTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"})
SUMMARY_LIMIT = 512  # _LENGTH_LIMITS
PROJECT_URL_LABEL_LIMIT = 32
# warehouse/forklift/metadata.py, DYNAMIC_FIELDS (lower-cased, as Warehouse compares them).
DYNAMIC_FIELDS = frozenset({
    "platform", "supported-platform", "summary", "description", "description-content-type",
    "keywords", "home-page", "download-url", "author", "author-email", "maintainer",
    "maintainer-email", "license", "license-expression", "license-file", "classifier",
    "requires-dist", "requires-python", "requires-external", "project-url", "provides-extra",
    "provides-dist", "obsoletes-dist", "requires", "provides", "obsoletes", "import-name",
    "import-namespace",
})
# The name: Warehouse's form rule (warehouse/utils/project.py, PROJECT_NAME_RE, on the safe name
# twine sends) holds for every name `packaging` accepts, so it needs no check of its own.

# Quick tests: what they accept, Warehouse's libraries (rfc3986, email-validator) accept too;
# anything else is decided by those libraries, imported only then (each costs ~0.1 s to import).
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?([/?#][A-Za-z0-9._~!$&'()*+,;=:@/?#%-]*)?", re.IGNORECASE)
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}")
_SPECIAL_USE_DOMAINS = ("arpa", "invalid", "local", "localhost", "onion", "test")


def is_valid_url(url: str) -> bool:
    """warehouse/utils/http.py, is_valid_uri(url, require_authority=False): http(s), RFC 3986."""
    if _PLAIN_URL.fullmatch(url):
        return True
    from rfc3986 import exceptions, uri_reference, validators  # type: ignore[import-untyped]

    validator = validators.Validator().allow_schemes("http", "https")
    validator.require_presence_of("scheme")
    validator.check_validity_of("scheme", "host", "port", "path", "query")
    try:
        validator.validate(uri_reference(url).normalize())
    except exceptions.ValidationError:
        return False
    return True


def email_problem(address: str) -> str | None:
    """Why email-validator (syntax only, as Warehouse calls it) refuses `address`, or None."""
    if len(address) <= 254 and _PLAIN_EMAIL.fullmatch(address) and "--" not in address:
        local, domain = address.rsplit("@", 1)
        labels = domain.lower().split(".")
        if len(local) <= 64 and not any(".".join(labels[i:]) in _SPECIAL_USE_DOMAINS
                                        for i in range(len(labels))):
            return None
    import email_validator

    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        return str(error)
    return None


def _value(meta: Metadata, field: str) -> object:
    """A field's value, or None when `packaging` refuses it (that problem is reported already)."""
    try:
        return getattr(meta, field)
    except InvalidMetadata:
        return None


def _form_view(raw: RawMetadata) -> Metadata:
    """The metadata as Warehouse reads it back from twine's form: the safe name, no empty values."""
    form = {k: v for k, v in raw.items() if v != "" and v != [""]}
    form["name"] = safe_name(raw.get("name", ""))
    form.pop("import_names", None)
    form.pop("import_namespaces", None)
    return Metadata.from_raw(form, validate=False)  # type: ignore[arg-type]


def warehouse_problems(raw: RawMetadata) -> list[str]:
    """Warehouse's own refusals for metadata `packaging` accepts, as twine's form carries it."""
    return [p if p.endswith(".") else p + "." for p in _problems(_form_view(raw), raw)]


def _problems(meta: Metadata, raw: RawMetadata) -> Iterator[str]:
    metadata_version = raw.get("metadata_version", "")
    if _value(meta, "metadata_version") and metadata_version not in SUPPORTED_METADATA_VERSIONS:
        yield f"{metadata_version!r} is not a valid metadata version"
    version = _value(meta, "version")
    if isinstance(version, Version) and version.local:
        yield f"The use of local versions in '{version}' is not allowed."
    summary = _value(meta, "summary")
    if isinstance(summary, str) and len(summary) > SUMMARY_LIMIT:
        yield f"'summary' field must be {SUMMARY_LIMIT} characters or less."
    for field in ("author_email", "maintainer_email"):
        yield from _email_problems(_value(meta, field))
    yield from classifier_problems(raw.get("classifiers", []))
    for field in ("home_page", "download_url"):
        url = _value(meta, field)
        if isinstance(url, str) and not is_valid_url(url):
            yield f"{url!r} is not a valid url."
    yield from _project_url_problems(_value(meta, "project_urls"))
    for field, email_name in (("provides_dist", "provides-dist"), ("obsoletes_dist", "obsoletes-dist")):
        yield from _dist_field_problems(raw.get(field, []), email_name)  # type: ignore[arg-type]
    for requirement in _value(meta, "requires_dist") or []:  # type: ignore[attr-defined]
        if isinstance(requirement, Requirement) and requirement.url is not None:
            yield f"Can't have direct dependency: {requirement}"
    for key in _value(meta, "dynamic") or []:  # type: ignore[attr-defined]
        if key not in DYNAMIC_FIELDS:
            yield f"Dynamic field {key!r} is not a valid dynamic field."
    if _value(meta, "license") and _value(meta, "license_expression"):
        yield ("License is deprecated when License-Expression is present. Only "
               "License-Expression should be present.")


def _email_problems(value: object) -> Iterator[str]:
    if not isinstance(value, str):
        return
    # Warehouse checks the first address only, as email.utils.parseaddr finds it.
    _, address = email.utils.parseaddr(value)
    if address and (why := email_problem(address)):
        yield f"{address!r} is not a valid email address: {why}"


def classifier_problems(classifiers: list[str]) -> list[str]:
    """Unknown and deprecated classifiers, checked against the `trove-classifiers` list."""
    if not classifiers:
        return []
    from trove_classifiers import all_classifiers, deprecated_classifiers

    used = set(classifiers)
    problems = [f"{c!r} is not a valid classifier." for c in sorted(used - set(all_classifiers))]
    for classifier in sorted(used & deprecated_classifiers.keys()):
        instead = deprecated_classifiers[classifier]
        problems.append(f"The classifier {classifier!r} has been deprecated"
                        + (f", use one of {instead} instead." if instead else "."))
    return problems


def _project_url_problems(urls: object) -> Iterator[str]:
    if not isinstance(urls, dict):
        return
    for label, url in urls.items():
        if not label:
            yield "project-url: Must have a label."
        elif len(label) > PROJECT_URL_LABEL_LIMIT:
            yield f"project-url: {label!r} must be {PROJECT_URL_LABEL_LIMIT} characters or less."
        elif not url:
            yield f"project-url {label!r}: Must have a URL."
        elif not is_valid_url(url):
            yield f"project-url {label!r}: {url!r} is not a valid url."


def _dist_field_problems(values: list[str], email_name: str) -> Iterator[str]:
    for text in values:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            # The parser's message points at the column on extra lines; the first says it all.
            yield f"{email_name}: {text!r} is invalid: {str(error).splitlines()[0]}"
        else:
            if requirement.url is not None:
                yield f"{email_name}: Can't have direct dependency: {text!r}"


def filename_problems(kind: Literal["sdist", "wheel"], filename: str, raw: RawMetadata) -> list[str]:
    """Warehouse's rules on file names (PEP 625 sdists, normalized wheel names)."""
    normalized = canonicalize_name(safe_name(raw.get("name", "")))
    if kind == "sdist":
        try:
            version = Version(raw.get("version", ""))
        except InvalidVersion:
            return []  # refused already, for the version itself
        expected = f"{normalized.replace('-', '_')}-{version}.tar.gz"
        if filename != expected:
            return [f"Filename {filename!r} is invalid, should be {expected!r}."]
        return []
    in_name = filename.split("-", 1)[0]
    if in_name != normalized.replace("-", "_"):
        return [f"Filename {filename!r} should contain the normalized project name "
                f"{normalized.replace('-', '_')!r}, not {in_name!r}."]
    return []
