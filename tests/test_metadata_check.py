"""The metadata check accepts what twine 7 and PyPI accept, and refuses what PyPI refuses, in PyPI's words."""

from __future__ import annotations

import string
import zipfile
from pathlib import Path

import email_validator
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc3986 import exceptions, uri_reference, validators  # type: ignore[import-untyped]

from pypi_publish.distribution import Distribution, digests, parse_filename
from pypi_publish.metadata import read_metadata, validation_problems
from pypi_publish.pypi_rules import email_problem, filename_problems, is_valid_url


def wheel(tmp_path: Path, fields: str = "", *, metadata_version: str = "2.1", name: str = "sample",
          version: str = "1.0", summary: str = "a sample",
          body: str = "A long description.\n") -> Distribution:
    """A wheel whose METADATA is `fields` after the required ones (bytes allowed through latin-1)."""
    module = name.lower().replace("-", "_").replace("\u212a", "k")
    path = tmp_path / f"{module}-{version}-py3-none-any.whl"
    text = (f"Metadata-Version: {metadata_version}\nName: {name}\nVersion: {version}\n"
            f"Summary: {summary}\n{fields}\n{body}")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{module}-{version}.dist-info/METADATA",
                         text.encode("utf-8", "surrogateescape"))
        archive.writestr(f"{module}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    kind, project, parsed = parse_filename(path.name)
    size, sha256 = digests(path)
    return Distribution(path, kind, project, parsed, size, sha256)


def problems(tmp_path: Path, fields: str = "", *, warehouse: bool = True, **kwargs: str) -> list[str]:
    return validation_problems(read_metadata(wheel(tmp_path, fields, **kwargs)), warehouse=warehouse)


# -- accepted -----------------------------------------------------------------------------------------

def test_complete_metadata_is_accepted_for_pypi(tmp_path: Path) -> None:
    assert problems(tmp_path, (
        "Author-email: Ann Author <ann@example.org>, Bob <bob@example.com>\n"
        "Maintainer-email: max.maintainer+pypi@mail.example.org\n"
        "Home-page: https://example.org\nDownload-URL: http://example.org:8080/dl?x=1#top\n"
        "Project-URL: Source, https://github.com/example/sample\n"
        "Project-URL: Changelog, https://example.org/changes.html#v1.0\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Classifier: License :: OSI Approved :: MIT License\n"
        "Requires-Dist: requests>=2; extra == 'http'\nProvides-Extra: http\n"
        "Requires-Python: >=3.10\nDescription-Content-Type: text/markdown; variant=GFM\n"),
        metadata_version="2.2") == []


@pytest.mark.parametrize("metadata_version", ["2.1", "2.2", "2.3"])
def test_license_file_below_2_4_is_accepted(tmp_path: Path, metadata_version: str) -> None:
    # setuptools < 77 writes it there; twine leaves it out of the upload and PyPI stores the rest.
    assert problems(tmp_path, "License: MIT\nLicense-File: LICENSE\n",
                    metadata_version=metadata_version) == []


def test_metadata_version_2_6_is_accepted_for_other_indexes(tmp_path: Path) -> None:
    assert problems(tmp_path, metadata_version="2.6", warehouse=False) == []


def test_local_version_is_accepted_for_other_indexes(tmp_path: Path) -> None:
    assert problems(tmp_path, version="1.0+build.7", warehouse=False) == []


def test_private_classifier_is_accepted_for_other_indexes(tmp_path: Path) -> None:
    assert problems(tmp_path, "Classifier: Private :: Do Not Upload\n", warehouse=False) == []


def test_only_the_first_author_email_is_checked_as_pypi_does(tmp_path: Path) -> None:
    assert problems(tmp_path, "Author-email: A <a@example.org>, B <b@localhost>\n") == []


# -- refused by twine 7 (packaging's rules, and fields it cannot read) --------------------------------

def test_license_expression_below_2_4_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "License-Expression: MIT\n", metadata_version="2.2") == [
        "license-expression introduced in metadata version 2.4, not 2.2."]


def test_metadata_version_2_0_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, metadata_version="2.0") == ["'2.0' is not a valid metadata version."]


def test_bad_requires_python_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Requires-Python: >>3\n") == ["'>>3' is invalid for 'requires-python'."]


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "X-Custom: 1\n") == [
        "'x-custom' is not a core metadata field; twine refuses files with unknown fields."]


def test_repeated_single_field_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Author: A\nAuthor: B\n") == [
        "'author' appears 2 times; it may appear only once."]


def test_repeated_project_url_label_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Project-URL: Docs, https://a.org\nProject-URL: Docs, https://b.org\n") == [
        "'project-url' has the label 'Docs' more than once; labels must differ."]


def test_field_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Author: Ren\udce9\n") == ["'author' is not valid UTF-8."]


def test_unknown_content_type_is_refused_with_the_allowed_ones_in_one_order(tmp_path: Path) -> None:
    assert problems(tmp_path, "Description-Content-Type: text/html\n") == [
        "'description-content-type' must be one of ['text/markdown', 'text/plain', 'text/x-rst'], "
        "not 'text/html'."]


def test_unknown_markdown_variant_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Description-Content-Type: text/markdown; variant=Wiki\n") == [
        "valid Markdown variants for 'description-content-type' are ['CommonMark', 'GFM'], not 'Wiki'."]


def test_dynamic_name_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Dynamic: Name\n", metadata_version="2.2") == [
        "'name' is not allowed as a dynamic field."]


# -- refused by PyPI only, with Warehouse's reason ------------------------------------------------------

def test_metadata_version_2_6_is_refused_for_pypi(tmp_path: Path) -> None:
    assert problems(tmp_path, metadata_version="2.6") == ["'2.6' is not a valid metadata version."]


def test_local_version_is_refused_for_pypi(tmp_path: Path) -> None:
    assert problems(tmp_path, version="1.0+build.7") == [
        "The use of local versions in '1.0+build.7' is not allowed."]


def test_long_summary_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, summary="x" * 513) == ["'summary' field must be 512 characters or less."]


def test_summary_of_512_characters_is_accepted(tmp_path: Path) -> None:
    assert problems(tmp_path, summary="x" * 512) == []


def test_invalid_author_email_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Author-email: Ann <ann@localhost>\n") == [
        "'ann@localhost' is not a valid email address: The part after the @-sign is not valid. "
        "It should have a period."]


def test_special_use_maintainer_email_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Maintainer-email: build@ci.local\n") == [
        "'build@ci.local' is not a valid email address: The part after the @-sign is a "
        "special-use or reserved name that cannot be used with email."]


def test_unknown_classifier_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Classifier: Private :: Do Not Upload\n") == [
        "'Private :: Do Not Upload' is not a valid classifier."]


def test_deprecated_classifier_is_refused_with_its_replacement(tmp_path: Path) -> None:
    assert problems(tmp_path, "Classifier: Natural Language :: Ukranian\n") == [
        "The classifier 'Natural Language :: Ukranian' has been deprecated, use one of "
        "['Natural Language :: Ukrainian'] instead."]


def test_home_page_that_is_not_http_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Home-page: ftp://example.org/pub\n") == [
        "'ftp://example.org/pub' is not a valid url."]


def test_download_url_without_scheme_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Download-URL: www.example.org\n") == ["'www.example.org' is not a valid url."]


def test_project_url_problems_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Project-URL: , https://example.org\n"
                    "Project-URL: A label longer than thirty-two chars, https://example.org\n"
                    "Project-URL: Docs\nProject-URL: Chat, https://example.org:99999/\n") == [
        "project-url: Must have a label.",
        "project-url: 'A label longer than thirty-two chars' must be 32 characters or less.",
        "project-url 'Docs': Must have a URL.",
        "project-url 'Chat': 'https://example.org:99999/' is not a valid url."]


def test_direct_url_dependency_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Requires-Dist: helper @ https://example.org/helper.whl\n") == [
        "Can't have direct dependency: helper @ https://example.org/helper.whl."]


def test_bad_provides_and_obsoletes_dist_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Provides-Dist: not valid !!\nObsoletes-Dist: old @ https://x.org/o\n",
                    metadata_version="1.2", body="") == [
        "provides-dist: 'not valid !!' is invalid: Expected semicolon (after name with no version "
        "specifier) or end.",
        "obsoletes-dist: Can't have direct dependency: 'old @ https://x.org/o'."]


def test_dynamic_dynamic_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "Dynamic: Dynamic\n", metadata_version="2.2") == [
        "Dynamic field 'dynamic' is not a valid dynamic field."]


def test_license_beside_license_expression_is_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "License: MIT\nLicense-Expression: MIT\n", metadata_version="2.4") == [
        "License is deprecated when License-Expression is present. Only License-Expression should "
        "be present."]


def test_name_with_a_non_ascii_letter_is_refused(tmp_path: Path) -> None:
    # KELVIN SIGN lower-cases to "k", so the file name matches; twine would send "-elvin".
    assert problems(tmp_path, name="\u212aelvin") == ["'\u212aelvin' is invalid for 'name'."]


# -- file names ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("filename", "expected"), [
    ("Old.Name-1.0.tar.gz", "old_name-1.0.tar.gz"),
    ("old_name-1.0.zip", "old_name-1.0.tar.gz"),
    ("old_name-1.00.tar.gz", "old_name-1.0.tar.gz"),
])
def test_sdist_name_that_is_not_pep625_is_refused(filename: str, expected: str) -> None:
    raw = {"metadata_version": "2.1", "name": "Old.Name", "version": "1.00"}
    assert filename_problems("sdist", filename, raw) == [  # type: ignore[arg-type]
        f"Filename {filename!r} is invalid, should be {expected!r}."]


def test_wheel_name_that_is_not_normalized_is_refused() -> None:
    raw = {"metadata_version": "2.1", "name": "Old.Name", "version": "1.0"}
    assert filename_problems("wheel", "Old.Name-1.0-py3-none-any.whl", raw) == [  # type: ignore[arg-type]
        "Filename 'Old.Name-1.0-py3-none-any.whl' should contain the normalized project name "
        "'old_name', not 'Old.Name'."]


def test_normalized_names_are_accepted() -> None:
    raw = {"metadata_version": "2.1", "name": "Old.Name", "version": "1.0"}
    assert filename_problems("sdist", "old_name-1.0.tar.gz", raw) == []  # type: ignore[arg-type]
    assert filename_problems("wheel", "old_name-1.0-py3-none-any.whl", raw) == []  # type: ignore[arg-type]


# -- the quick tests agree with Warehouse's libraries ----------------------------------------------------

def warehouse_is_valid_url(url: str) -> bool:
    """warehouse/utils/http.py, is_valid_uri(url, require_authority=False), as Warehouse calls it."""
    validator = validators.Validator().allow_schemes("http", "https")
    validator.require_presence_of("scheme")
    validator.check_validity_of("scheme", "host", "port", "path", "query")
    try:
        validator.validate(uri_reference(url).normalize())
    except exceptions.ValidationError:
        return False
    return True


URL_CHARS = string.ascii_letters + string.digits + ":/?#[]@!$&'()*+,;=-._~% |\"<>\u00e9"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", "https:", ""]),
       st.text(URL_CHARS, max_size=30))
def test_url_check_agrees_with_warehouse(scheme: str, rest: str) -> None:
    assert is_valid_url(scheme + rest) == warehouse_is_valid_url(scheme + rest)


EMAIL_CHARS = string.ascii_letters + string.digits + ".-_+@!#"


@settings(max_examples=300, deadline=None)
@given(st.text(EMAIL_CHARS, min_size=1, max_size=12),
       st.sampled_from(["example.org", "a.b", "x--y.org", "ci.local", "host", "x.test", "mail.io",
                        "1.2.3.4", "EXAMPLE.COM", "a.b1", "-bad.org", "ok-.org"]))
def test_email_check_agrees_with_email_validator(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as error:
        assert email_problem(address) == str(error)
    else:
        assert email_problem(address) is None
