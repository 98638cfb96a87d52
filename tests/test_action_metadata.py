"""The action's metadata (action.yml) and the release documents around it."""


from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.workflows import (
    ACTION,
    DEV_VERSION,
    WORKFLOWS_DIR,
    Step,
)

# -- the action's metadata ------------------------------------------------------------------------


IMAGE = re.compile(r"Dockerfile|docker://[^@\s]+@sha256:[0-9a-f]{64}")


def composite_steps() -> list[Step]:
    steps: list[Step] = ACTION["runs"]["steps"]
    return steps


def test_the_action_is_a_composite_with_one_step_per_shell() -> None:
    assert ACTION["runs"]["using"] == "composite"
    steps = composite_steps()
    assert [(step["shell"], step["if"]) for step in steps] == [
        ("sh", "runner.os != 'Windows'"), ("powershell", "runner.os == 'Windows'")]
    assert steps[0]["env"] == steps[1]["env"]


def test_the_action_runs_its_own_image_built_or_pinned_by_digest() -> None:
    for step in composite_steps():
        assert IMAGE.fullmatch(step["env"]["PYPI_PUBLISH_IMAGE"])


def test_inputs_reach_the_action_as_environment_never_as_script_text() -> None:
    for step in composite_steps():
        assert "${{" not in step["run"]
        assert step["env"]["PYPI_PUBLISH_INPUTS"] == "${{ toJSON(inputs) }}"
        assert not [name for name in step["env"] if name.startswith("INPUT_")]


def test_every_output_comes_from_whichever_step_ran() -> None:
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.posix.outputs.{name} || steps.windows.outputs.{name} }}}}"


def test_the_release_points_every_step_at_the_image_and_changes_nothing_else(tmp_path: Path) -> None:
    copy = tmp_path / "action.yml"
    shutil.copy(REPO / "action.yml", copy)
    reference = "docker://ghcr.io/octo-org/pypi-publish:v1.2.3@sha256:" + "ab" * 32
    result = subprocess.run([str(REPO / "scripts" / "release-image"), "--point-at", reference,
                             "--action-yml", str(copy)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    released = yaml.safe_load(copy.read_text())
    assert [step["env"]["PYPI_PUBLISH_IMAGE"] for step in released["runs"]["steps"]] == [reference] * 2
    for step in released["runs"]["steps"]:
        step["env"]["PYPI_PUBLISH_IMAGE"] = "Dockerfile"
    assert released == ACTION


def test_the_release_refuses_an_image_not_named_by_digest(tmp_path: Path) -> None:
    copy = tmp_path / "action.yml"
    shutil.copy(REPO / "action.yml", copy)
    result = subprocess.run([str(REPO / "scripts" / "release-image"), "--point-at",
                             "docker://ghcr.io/octo-org/pypi-publish:v1", "--action-yml", str(copy)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert copy.read_text() == (REPO / "action.yml").read_text()


def test_the_action_asks_for_no_secret_it_is_not_given() -> None:
    for name, spec in ACTION["inputs"].items():
        assert "${{" not in str(spec.get("default", "")), name
        assert spec.get("required", False) is False, name
    assert ACTION["inputs"]["password"]["default"] == ""


def test_the_action_has_the_documented_outputs() -> None:
    assert list(ACTION["outputs"]) == ["version", "files", "uploaded", "skipped",
                                       "repository-url", "auth", "attestations"]


def test_the_action_declares_the_new_inputs_with_their_defaults() -> None:
    defaults = {name: spec["default"] for name, spec in ACTION["inputs"].items()}
    assert {name: defaults[name] for name in ("index-url", "config-settings", "build-timeout",
                                              "attestations", "runner")} == {
        "index-url": "", "config-settings": "", "build-timeout": "30", "attestations": "true",
        "runner": "auto"}


# -- release engineering ------------------------------------------------------------------------


def test_the_package_states_one_version() -> None:
    pyproject_version = DEV_VERSION.project_version((REPO / "pyproject.toml").read_text())
    init = (REPO / "src" / "pypi_publish" / "__init__.py").read_text()
    assert f'__version__ = "{pyproject_version}"' in init


def test_the_changelog_leads_with_unreleased_changes_or_the_current_version() -> None:
    headings = re.findall(r"^## (.+)$", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    version = DEV_VERSION.project_version((REPO / "pyproject.toml").read_text())
    assert headings
    assert headings[0] == "Unreleased" or headings[0].startswith(f"{version} - ")
    for heading in headings[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+\S* - \d{4}-\d{2}-\d{2}", heading), heading


@pytest.mark.parametrize("document", ["RELEASING.md", "README.md"])
def test_the_release_documents_name_files_that_exist(document: str) -> None:
    text = (REPO / document).read_text()
    paths = set(re.findall(r"`((?:\.github|\.ci|scripts|src|tests|docker)/[\w./-]+)`", text))
    paths |= set(re.findall(r"`(\w+\.(?:yml|md|toml))`", text)) - {"dependabot.yml"}
    assert paths
    for path in sorted(paths):
        exists = (REPO / path).exists() or (WORKFLOWS_DIR / path).exists()
        assert exists, f"{document} names `{path}`, which does not exist"


# pypa/gh-action-pypi-publish's defaults as of its v1.14.0, which the README compares with.
PYPA_DEFAULTS = {"user": "__token__", "repository-url": "https://upload.pypi.org/legacy/",
                 "packages-dir": "dist", "verify-metadata": "true", "skip-existing": "false",
                 "verbose": "true", "print-hash": "true"}


def test_the_migration_notes_name_every_default_that_differs_from_the_pypa_action() -> None:
    differing = sorted(name for name, default in PYPA_DEFAULTS.items()
                       if ACTION["inputs"][name].get("default", "") != default)
    notes = (REPO / "README.md").read_text()
    named = re.search(r"same names, meanings and defaults, except\s+`([\w-]+)`", notes)
    assert named is not None
    assert differing == [named.group(1)]
