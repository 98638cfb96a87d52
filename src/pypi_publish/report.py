"""What the run did, told three ways: step outputs, the job summary, and the log's last lines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Config
from .distribution import Release
from .errors import PublishError
from .gha import Console
from .results import FileResult, Status

if TYPE_CHECKING:
    from .attestations import Signed


@dataclass(frozen=True)
class RunOutcome:
    """Everything the stages returned, as far as the run got."""

    config: Config
    release: Release | None = None
    results: tuple[FileResult, ...] = ()
    auth: str = ""  # "token" or "trusted-publishing"; empty when no credentials were planned
    error: PublishError | None = None
    notes: tuple[str, ...] = field(default=())
    attestations: Mapping[str, Signed] = field(default_factory=dict)  # file name -> its attestation

    def names(self, *statuses: Status) -> list[str]:
        return [r.dist.filename for r in self.results if r.status in statuses]


@dataclass(frozen=True)
class Rendered:
    outputs: dict[str, str]
    summary: str


def outcome_text(outcome: RunOutcome, filename: str) -> str:
    for result in outcome.results:
        if result.dist.filename == filename:
            text = result.status.value
            return f"{text} ({result.detail})" if result.detail and result.status is not Status.UPLOADED \
                else text
    if outcome.config.dry_run:
        return "would upload"
    if not outcome.config.upload:
        return "checked, not uploaded"
    return "not uploaded"


def outputs(outcome: RunOutcome) -> dict[str, str]:
    release = outcome.release
    return {
        "version": str(release.version) if release else "",
        "files": json.dumps([d.filename for d in release.files] if release else []),
        "uploaded": json.dumps(outcome.names(Status.UPLOADED)),
        "skipped": json.dumps(outcome.names(Status.SKIPPED, Status.PRESENT)),
        "repository-url": outcome.config.index.upload_url,
        "auth": outcome.auth,
        "attestations": json.dumps({name: {"predicate_type": s.predicate_type,
                                           "log_index": s.log_index}
                                    for name, s in outcome.attestations.items()}),
    }


def attestation_cell(outcome: RunOutcome, filename: str) -> str:
    """The summary's link to the transparency-log entry of a file's attestation."""
    signed = outcome.attestations.get(filename)
    return f"[log entry {signed.log_index}]({signed.log_url})" if signed else "—"


def summary_markdown(outcome: RunOutcome) -> str:
    config = outcome.config
    index = config.index
    release = outcome.release
    name = f"{release.project} {release.version}" if release else "distributions"
    if outcome.error is not None:
        heading = f"## ❌ Publishing {name} to {index.name} failed"
    elif config.dry_run:
        heading = f"## Dry run: {name} for {index.name} (nothing uploaded)"
    elif not config.upload:
        heading = f"## Checked {name} (not uploaded)"
    else:
        heading = f"## ✅ Published {name} to {index.name}"
    lines = [heading, ""]
    if release:
        attested = bool(outcome.attestations)
        lines += ["| File | Size | SHA-256 | Result |" + (" Attestation |" if attested else ""),
                  "|---|---|---|---|" + ("---|" if attested else "")]
        for dist in release.files:
            digest = f"`{dist.sha256}`" if config.print_hash else "—"
            lines.append(f"| `{dist.filename}` | {dist.size:,} B | {digest} | "
                         f"{outcome_text(outcome, dist.filename)} |"
                         + (f" {attestation_cell(outcome, dist.filename)} |" if attested else ""))
        lines.append("")
    details = [f"Index: {index.upload_url}"]
    if outcome.auth:
        details.append("Authentication: " + ("Trusted Publishing (OIDC)"
                                             if outcome.auth == "trusted-publishing" else "API token"))
    if release and config.upload and not config.dry_run and outcome.error is None:
        details.append(f"Project: {index.project_page(str(release.project), str(release.version))}")
    lines += [f"- {d}" for d in details]
    if outcome.error is not None:
        lines += ["", f"### {outcome.error.title}", "", outcome.error.message]
        if outcome.error.hint:
            lines += ["", f"**How to fix:** {outcome.error.hint}"]
    return "\n".join(lines) + "\n"


def render(outcome: RunOutcome) -> Rendered:
    return Rendered(outputs(outcome), summary_markdown(outcome))


def emit(outcome: RunOutcome, console: Console) -> None:
    rendered = render(outcome)
    for name, value in rendered.outputs.items():
        console.set_output(name, value)
    console.add_summary(rendered.summary)
    if outcome.error is not None:
        console.error(str(outcome.error), title=outcome.error.title)


def config_error_summary(error: PublishError) -> str:
    return f"## ❌ {error.title}\n\n{error.message}\n\n**How to fix:** {error.hint}\n"
