"""What the run did, told three ways: step outputs, the job summary, and the log's last lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import PYPI_UPLOAD_URL, TESTPYPI_UPLOAD_URL, Config
from .dists import Distribution
from .errors import PublishError
from .gha import Console

if TYPE_CHECKING:
    from .upload import FileResult


@dataclass
class RunRecord:
    """Filled in stage by stage, so a failure late in the run still reports what happened."""

    config: Config
    project: str = ""
    version: str = ""
    files: list[Distribution] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)
    auth: str = ""
    error: PublishError | None = None

    def outcome_of(self, dist: Distribution) -> str:
        for result in self.results:
            if result.dist is dist:
                text = result.status.value
                return f"{text} ({result.detail})" if result.detail and text != "uploaded" else text
        if self.config.dry_run:
            return "would upload"
        if not self.config.upload:
            return "checked, not uploaded"
        return "not uploaded"

    def names_with(self, *statuses: str) -> list[str]:
        return [r.dist.filename for r in self.results if r.status.name in statuses]


def project_url(config: Config, project: str, version: str) -> str:
    url = config.repository_url.rstrip("/") + "/"
    if url == PYPI_UPLOAD_URL:
        return f"https://pypi.org/project/{project}/{version}/"
    if url == TESTPYPI_UPLOAD_URL:
        return f"https://test.pypi.org/project/{project}/{version}/"
    from .index import simple_root

    return simple_root(config.repository_url) + project + "/"


def write_outputs(record: RunRecord, console: Console) -> None:
    console.set_output("version", record.version)
    console.set_output("files", json.dumps([d.filename for d in record.files]))
    console.set_output("uploaded", json.dumps(record.names_with("UPLOADED")))
    console.set_output("skipped", json.dumps(record.names_with("SKIPPED", "PRESENT")))
    console.set_output("repository-url", record.config.repository_url)
    console.set_output("auth", record.auth)




def summary_markdown(record: RunRecord) -> str:
    config = record.config
    name = f"{record.project} {record.version}".strip() or "distributions"
    if record.error is not None:
        heading = f"## ❌ Publishing {name} to {config.index_name} failed"
    elif config.dry_run:
        heading = f"## Dry run: {name} for {config.index_name} (nothing uploaded)"
    elif not config.upload:
        heading = f"## Checked {name} (not uploaded)"
    else:
        heading = f"## ✅ Published {name} to {config.index_name}"
    lines = [heading, ""]
    if record.files:
        lines += ["| File | Size | SHA-256 | Result |", "|---|---|---|---|"]
        for dist in record.files:
            digest = f"`{dist.sha256}`" if config.print_hash else "—"
            lines.append(f"| `{dist.filename}` | {dist.size:,} B | {digest} | "
                         f"{record.outcome_of(dist)} |")
        lines.append("")
    details = [f"Index: {config.repository_url}"]
    if record.auth:
        details.append("Authentication: " + ("Trusted Publishing (OIDC)"
                                             if record.auth == "trusted-publishing" else "API token"))
    if record.project and record.version and config.upload and not config.dry_run \
            and record.error is None:
        details.append(f"Project: {project_url(config, record.project, record.version)}")
    lines += [f"- {d}" for d in details]
    if record.error is not None:
        lines += ["", f"### {record.error.title}", "", record.error.message]
        if record.error.hint:
            lines += ["", f"**How to fix:** {record.error.hint}"]
    return "\n".join(lines) + "\n"


def report(record: RunRecord, console: Console) -> None:
    write_outputs(record, console)
    console.add_summary(summary_markdown(record))
    if record.error is not None:
        console.error(str(record.error), title=record.error.title)
