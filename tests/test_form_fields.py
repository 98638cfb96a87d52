"""The upload form is twine's, field for field and in twine's order, for every Metadata-Version."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from twine.package import PackageFile
from twine.repository import Repository
from twine.wheel import Wheel

from pypi_publish.distribution import Distribution, digests, parse_filename
from pypi_publish.form import form_fields, wheel_pyversion
from pypi_publish.metadata import FileMetadata, read_metadata, validation_problems
from tests.conftest import WHEELHOUSE

NAME = "Hand_Made.pkg"  # twine sends its "safe" spelling, Hand-Made.pkg
MODULE = "hand_made_pkg"

# The fields each Metadata-Version added; a file of one version carries those of all before it.
FIELDS_ADDED = {
    "1.0": ("Platform: linux\nPlatform: win32\nSummary: A hand-made distribution\n"
            "Keywords: one, two,three\nHome-page: https://example.org/home\nAuthor: Ann Author\n"
            "Author-email: Ann <ann@example.org>\nLicense: MIT\n"),
    "1.1": ("Supported-Platform: RedHat 9\nSupported-Platform: Debian 13\n"
            "Download-URL: https://example.org/download\n"
            "Classifier: Programming Language :: Python :: 3\n"
            "Classifier: License :: OSI Approved :: MIT License\n"
            "Requires: os.path\nProvides: hand_made\nObsoletes: hand_made_old\n"),
    "1.2": ("Maintainer: Max Maintainer\nMaintainer-email: max@example.org\n"
            "Requires-Dist: requests>=2\nRequires-Dist: tomli; python_version < '3.11'\n"
            "Provides-Dist: hand-made-extra\nObsoletes-Dist: hand-made-legacy (<1)\n"
            "Requires-Python: >=3.8\nRequires-External: libssl (>=3)\n"
            "Project-URL: Homepage, https://example.org\n"
            "Project-URL: Source, https://example.org/src\n"
            "Project-URL: Issue Tracker, https://example.org/issues?state=open,new\n"),
    "2.1": "Description-Content-Type: text/x-rst\nProvides-Extra: cli\nProvides-Extra: Docs_Extra\n",
    "2.2": "Dynamic: Requires-Dist\nDynamic: classifier\nLicense-File: LICENSE\nLicense-File: NOTICE\n",
    "2.3": "",
    "2.4": "License-Expression: MIT OR Apache-2.0\n",
    "2.5": "Import-Name: hand_made_pkg\nImport-Namespace: hand_made\n",
}
VERSIONS = tuple(FIELDS_ADDED)
BODY = "Hand made\n=========\n\nA long description\nover several lines.\n\n* with a list\n"
HEADER_DESCRIPTION = "Description: Hand made, described in a header\n        over two lines\n"


def metadata_for(version: str) -> str:
    fields = "".join(text for v, text in FIELDS_ADDED.items() if v <= version)
    if version >= "2.4":  # License and License-Expression exclude each other there
        fields = fields.replace("License: MIT\n", "")
    if version == "2.3":  # setuptools < 77 writes License-File under 2.1-2.3 too
        fields = fields.replace("License-File: NOTICE\n", "")
    text = f"Metadata-Version: {version}\nName: {NAME}\nVersion: 1.0\n{fields}"
    # From 2.1 the description is the body; before, a (folded) header.
    return text + "\n" + BODY if version >= "2.1" else text + HEADER_DESCRIPTION


def write_wheel(directory: Path, metadata: str, filename: str = f"{MODULE}-1.0-py3-none-any.whl") -> Path:
    path = directory / filename
    info = f"{MODULE}-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{MODULE}/__init__.py", "")
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n")
        archive.writestr(f"{info}/licenses/LICENSE", "MIT\n")
        archive.writestr(f"{info}/RECORD", "")
    return path


def write_sdist(directory: Path, metadata: str) -> Path:
    path = directory / f"{MODULE}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (("PKG-INFO", metadata), ("LICENSE", "MIT\n"), ("pyproject.toml", "")):
            data = text.encode()
            member = tarfile.TarInfo(f"{MODULE}-1.0/{name}")
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def distribution(path: Path) -> Distribution:
    kind, project, version = parse_filename(path.name)
    size, sha256 = digests(path)
    return Distribution(path, kind, project, version, size, sha256)


def twine_form(path: Path, attestations: list[Path] | None = None) -> list[tuple[str, str]]:
    """What twine 7's upload sends besides the file (twine/repository.py, Repository._upload)."""
    package = PackageFile.from_filename(str(path), comment=None)
    if attestations:
        package.add_attestations([str(a) for a in attestations])
    pairs = Repository._convert_metadata_to_list_of_tuples(package.metadata_dictionary())
    return [*pairs, (":action", "file_upload"), ("protocol_version", "1")]


def our_form(path: Path, attestations: str | None = None) -> list[tuple[str, str]]:
    dist = distribution(path)
    meta = read_metadata(dist)
    return form_fields(dist.kind, dist.filename, meta.raw, dist.sha256, dist.blake2_256,
                       attestations=attestations)


def names(form: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in form]


@pytest.mark.parametrize("version", VERSIONS)
def test_wheel_form_is_twines(tmp_path: Path, version: str) -> None:
    path = write_wheel(tmp_path, metadata_for(version))
    assert our_form(path) == twine_form(path)


@pytest.mark.parametrize("version", VERSIONS)
def test_sdist_form_is_twines(tmp_path: Path, version: str) -> None:
    path = write_sdist(tmp_path, metadata_for(version))
    assert our_form(path) == twine_form(path)


@pytest.mark.parametrize("version", ["2.2", "2.3"])
def test_license_file_below_2_4_is_left_out_of_the_form(tmp_path: Path, version: str) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for(version)))
    assert "license_file" not in names(form)


def test_license_file_from_2_4_is_sent_once_per_file(tmp_path: Path) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for("2.4")))
    assert [value for name, value in form if name == "license_file"] == ["LICENSE", "NOTICE"]


def test_import_names_of_2_5_are_not_sent_as_twine_does_not(tmp_path: Path) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for("2.5")))
    assert not {"import_name", "import_names", "import_namespace"} & set(names(form))


def test_project_urls_keep_their_order_and_commas(tmp_path: Path) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for("1.2")))
    assert [value for name, value in form if name == "project_urls"] == [
        "Homepage, https://example.org", "Source, https://example.org/src",
        "Issue Tracker, https://example.org/issues?state=open,new"]


def test_keywords_are_one_comma_joined_field(tmp_path: Path) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for("1.0")))
    assert [value for name, value in form if name == "keywords"] == ["one, two, three"]


def test_name_is_sent_in_its_safe_spelling(tmp_path: Path) -> None:
    form = our_form(write_wheel(tmp_path, metadata_for("2.1")))
    assert dict(form)["name"] == "Hand-Made.pkg"


def test_unknown_header_is_never_sent(tmp_path: Path) -> None:
    dist = distribution(write_wheel(tmp_path, metadata_for("2.1").replace(
        "Provides-Extra: cli\n", "Provides-Extra: cli\nX-Private: secret-ish\n")))
    meta = read_metadata(dist)
    form = form_fields(dist.kind, dist.filename, meta.raw, dist.sha256, dist.blake2_256)
    assert "x-private" in meta.unparsed
    assert not any("x-private" in name or "secret-ish" in value for name, value in form)


def test_form_ends_with_file_fields_digests_and_action(tmp_path: Path) -> None:
    path = write_wheel(tmp_path, metadata_for("2.4"))
    dist = distribution(path)
    assert names(our_form(path))[-6:] == ["pyversion", "filetype", "sha256_digest",
                                          "blake2_256_digest", ":action", "protocol_version"]
    assert dict(our_form(path))["sha256_digest"] == dist.sha256


def test_attestations_field_is_twines(tmp_path: Path) -> None:
    path = write_wheel(tmp_path, metadata_for("2.4"))
    attestation = {"version": 1, "verification_material": {"certificate": "MIIB"},
                   "envelope": {"statement": "e30=", "signature": "c2ln"}}
    attestation_path = tmp_path / f"{path.name}.publish.attestation"
    attestation_path.write_text(json.dumps(attestation))
    assert our_form(path, json.dumps([attestation])) == twine_form(path, [attestation_path])


@pytest.mark.parametrize("filename", [
    "a-1.0-py3-none-any.whl", "a-1.0-1-py3-none-any.whl", "a_b-1.0.post1-py2.py3-none-any.whl",
    "a-1.0-1abc-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    # A version that does not start with a digit is taken for the Python tag by twine.
    "a-v1.0-py3-none-any.whl", "a-v1.0-1-py3-none-any.whl",
])
def test_wheel_pyversion_is_twines(tmp_path: Path, filename: str) -> None:
    (tmp_path / filename).write_bytes(b"")
    assert wheel_pyversion(filename) == Wheel(str(tmp_path / filename)).py_version


@pytest.fixture(scope="module")
def setuptools75_dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A real sdist and wheel by setuptools < 77: Metadata-Version 2.2 with License-File."""
    if not any(WHEELHOUSE.glob("setuptools-75.*.whl")):
        pytest.fail(f"{WHEELHOUSE} has no setuptools 75; run `bash scripts/dev-env`")
    root = tmp_path_factory.mktemp("old-setuptools")
    project = root / "project"
    (project / "src" / "old_setuptools_user").mkdir(parents=True)
    (project / "src" / "old_setuptools_user" / "__init__.py").write_text("")
    (project / "README.rst").write_text("Old setuptools\n==============\n\nStill in use.\n")
    (project / "LICENSE").write_text("MIT License\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools==75.*"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "old-setuptools-user"\nversion = "1.0"\ndescription = "x"\n'
        'readme = "README.rst"\nlicense = { text = "MIT" }\n'
        'classifiers = ["Programming Language :: Python :: 3"]\n')
    out = root / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE)}
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(project)], env=env,
                   check=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    return sorted(out.iterdir())


def test_setuptools75_files_carry_license_file_under_2_2(setuptools75_dists: list[Path]) -> None:
    for path in setuptools75_dists:
        meta = read_metadata(distribution(path))
        assert (meta.metadata_version, meta.raw.get("license_files")) == ("2.2", ["LICENSE"])


def test_setuptools75_files_pass_the_check(setuptools75_dists: list[Path]) -> None:
    for path in setuptools75_dists:
        meta: FileMetadata = read_metadata(distribution(path))
        assert validation_problems(meta) == []


def test_setuptools75_form_is_twines_without_license_file(setuptools75_dists: list[Path]) -> None:
    for path in setuptools75_dists:
        form = our_form(path)
        assert form == twine_form(path)
        assert "license_file" not in names(form)
