"""The core publish path, end to end: real builds, a real pypiserver, the action as the runner runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, MakeProject, RunAction, RunCli
from tests.support.index_server import IndexServer
from tests.support.projects import BACKENDS


def token_env(index: IndexServer) -> dict[str, str]:
    return {"PYPI_API_TOKEN": index.password}


@pytest.mark.parametrize("backend", BACKENDS)
def test_action_builds_and_publishes_a_project(
    backend: str, index: IndexServer, project: MakeProject, run_action: RunAction
) -> None:
    workspace = project("sample-project", "1.2.3", backend)
    run = run_action(workspace, {"repository-url": index.url}, token_env(index))
    assert run.returncode == 0, run.text
    assert index.files() == ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
    assert run.outputs["version"] == "1.2.3"
    # The wheel first: the index fills a new release's metadata from its first file.
    assert json.loads(run.outputs["uploaded"]) == [
        "sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
    assert json.loads(run.outputs["skipped"]) == []
    assert run.outputs["auth"] == "token"
    assert run.outputs["repository-url"] == index.url


def test_uploaded_files_are_byte_identical_to_the_built_ones(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    dist = built_dists()
    workspace = dist.parent
    shutil.move(dist, workspace / "dist")
    run = run_action(workspace, {"repository-url": index.url}, token_env(index))
    assert run.returncode == 0, run.text
    for name in index.files():
        assert index.file_bytes(name) == (workspace / "dist" / name).read_bytes()


def test_prebuilt_dist_is_published_without_building(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    dist = built_dists("prebuilt-pkg", "0.1.0")
    workspace = dist.parent
    (workspace / "dist").mkdir()
    for item in dist.iterdir():
        shutil.copy(item, workspace / "dist" / item.name)
    (workspace / "dist" / "notes.txt").write_text("release notes\n")
    run = run_action(workspace, {"repository-url": index.url, "build": "false"}, token_env(index))
    assert run.returncode == 0, run.text
    assert index.files() == ["prebuilt_pkg-0.1.0-py3-none-any.whl", "prebuilt_pkg-0.1.0.tar.gz"]
    assert "Not uploading 1 file(s) that are not distributions: notes.txt" in run.stdout
    assert "Build sdist" not in run.stdout


def workspace_with_dist(built_dists: BuiltDists, name: str = "sample-project",
                        version: str = "1.2.3") -> Path:
    dist = built_dists(name, version)
    workspace = dist.parent / f"ws-{name}-{version}"
    workspace.mkdir()
    shutil.copytree(dist, workspace / "dist")
    return workspace


def test_summary_lists_every_file_with_size_hash_and_outcome(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    run = run_action(workspace, {"repository-url": index.url}, token_env(index))
    assert run.returncode == 0, run.text
    assert "## ✅ Published sample-project 1.2.3 to 127.0.0.1" in run.summary
    assert "| File | Size | SHA-256 | Result |" in run.summary
    for path in (workspace / "dist").iterdir():
        import hashlib
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"| `{path.name}` | {path.stat().st_size:,} B | `{digest}` | uploaded |" in run.summary
        assert f"sha256:{digest}" in run.stdout
    assert "Authentication: API token" in run.summary
    assert f"Project: {index.url}simple/sample-project/" in run.summary


def test_log_uses_groups_and_masks_the_token_first(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    run = run_action(workspace, {"repository-url": index.url}, token_env(index))
    lines = run.stdout.splitlines()
    assert lines[0] == f"::add-mask::{index.password}"
    assert "::group::Authenticate" in lines
    assert "::endgroup::" in lines


def test_skip_existing_rerun_uploads_nothing_and_reports_skips(
    index: IndexServer, built_dists: BuiltDists, project: MakeProject, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    first = run_action(workspace, {"repository-url": index.url}, token_env(index))
    assert first.returncode == 0, first.text
    before = {name: index.file_bytes(name) for name in index.files()}
    # A rebuild makes different bytes under the same names: the usual rerun after a partial release.
    rebuilt = project("sample-project", "1.2.3")
    run_action(rebuilt, {"repository-url": index.url, "dry-run": "true"}, {})
    shutil.rmtree(workspace / "dist")
    shutil.copytree(rebuilt / "dist", workspace / "dist")
    run = run_action(workspace, {"repository-url": index.url, "skip-existing": "true"},
                     token_env(index))
    assert run.returncode == 0, run.text
    assert json.loads(run.outputs["uploaded"]) == []
    assert sorted(json.loads(run.outputs["skipped"])) == sorted(before)
    assert {name: index.file_bytes(name) for name in index.files()} == before
    assert "skipped (a file of this name with different content is on the index)" in run.summary


def test_rerun_of_identical_files_succeeds_without_uploading(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    assert run_action(workspace, {"repository-url": index.url}, token_env(index)).returncode == 0
    run = run_action(workspace, {"repository-url": index.url}, token_env(index))
    assert run.returncode == 0, run.text
    assert json.loads(run.outputs["uploaded"]) == []
    assert len(json.loads(run.outputs["skipped"])) == 2
    assert "already on the index (identical file already on the index)" in run.summary


def test_rerun_with_different_files_fails_naming_skip_existing(
    index: IndexServer, built_dists: BuiltDists, project: MakeProject, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    assert run_action(workspace, {"repository-url": index.url}, token_env(index)).returncode == 0
    before = {name: index.file_bytes(name) for name in index.files()}
    rebuilt = project("sample-project", "1.2.3", readme="# Changed\n\nOther bytes.\n")
    assert run_action(rebuilt, {"repository-url": index.url, "dry-run": "true"}, {}).returncode == 0
    run = run_action(rebuilt, {"repository-url": index.url}, token_env(index))
    assert run.returncode == 1
    assert "already on the index with different content; nothing was uploaded." in run.stdout
    assert "`skip-existing: true`" in run.stdout
    assert "::error title=Upload failed::" in run.stdout
    assert {name: index.file_bytes(name) for name in index.files()} == before


def test_cli_rerun_with_skip_existing_reports_each_skip(
    index: IndexServer, built_dists: BuiltDists, run_cli: RunCli
) -> None:
    workspace = workspace_with_dist(built_dists)
    env = {"TWINE_PASSWORD": index.password}
    args = ["--skip-build", "--repository-url", index.url]
    assert run_cli(args, workspace, env).returncode == 0
    run = run_cli([*args, "--skip-existing"], workspace, env)
    assert run.returncode == 0, run.text
    assert "Skipped sample_project-1.2.3.tar.gz: identical file already on the index" in run.stdout
    assert "Skipped sample_project-1.2.3-py3-none-any.whl: identical file already on the index" \
        in run.stdout


def test_tag_must_match_the_version(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    run = run_action(workspace, {"repository-url": index.url},
                     {**token_env(index), "GITHUB_REF": "refs/tags/v1.2.4", "GITHUB_REF_TYPE": "tag"})
    assert run.returncode == 1
    assert ("The files are version 1.2.3 but the tag `v1.2.4` says 1.2.4; refusing to publish "
            "a release under the wrong version.") in run.stdout
    assert "`expected-version: false`" in run.stdout
    assert index.files() == []


def test_tag_with_matching_normalised_version_publishes(
    index: IndexServer, built_dists: BuiltDists, run_action: RunAction
) -> None:
    workspace = workspace_with_dist(built_dists)
    run = run_action(workspace, {"repository-url": index.url},
                     {**token_env(index), "GITHUB_REF": "refs/tags/v1.2.3.0"})
    assert run.returncode == 0, run.text
    assert "version matches the tag `v1.2.3.0`" in run.stdout


def test_cli_publishes_with_twine_credentials(
    index: IndexServer, project: MakeProject, run_cli: RunCli
) -> None:
    workspace = project("cli-project", "2.0.0")
    run = run_cli(["--repository-url", index.url, "--tag", "v2.0.0"], workspace,
                  {"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": index.password})
    assert run.returncode == 0, run.text
    assert index.files() == ["cli_project-2.0.0-py3-none-any.whl", "cli_project-2.0.0.tar.gz"]
    assert "::" not in run.stdout  # plain text outside GitHub Actions


def test_cli_no_upload_builds_and_checks_only(
    index: IndexServer, project: MakeProject, run_cli: RunCli
) -> None:
    workspace = project("cli-project", "2.0.0")
    run = run_cli(["--no-upload", "--repository-url", index.url], workspace)
    assert run.returncode == 0, run.text
    assert "Not uploading (--no-upload)." in run.stdout
    assert sorted(p.name for p in (workspace / "dist").iterdir()) == [
        "cli_project-2.0.0-py3-none-any.whl", "cli_project-2.0.0.tar.gz"]
    assert index.files() == []


def test_a_wheel_matrix_uploads_in_parallel_and_reports_in_release_order(
    index: IndexServer, tmp_path: Path, run_action: RunAction
) -> None:
    from tests.support.archives import write_wheel

    workspace = tmp_path / "matrix"
    dist = workspace / "dist"
    names = []
    for tag in ("cp310", "cp311", "cp312", "cp313"):
        for platform in ("manylinux_2_17_x86_64", "macosx_11_0_arm64", "win_amd64"):
            wheel = write_wheel(dist, "matrix-pkg", "3.0.0")
            target = wheel.with_name(f"matrix_pkg-3.0.0-{tag}-{tag}-{platform}.whl")
            wheel.rename(target)
            names.append(target.name)
    run = run_action(workspace, {"repository-url": index.url, "parallel": "4", "verbose": "true"},
                     token_env(index))
    assert run.returncode == 0, run.text
    assert index.files() == sorted(names)
    assert json.loads(run.outputs["uploaded"]) == sorted(names)
    assert "The index lists 0 file(s) of matrix-pkg: " in run.stdout
