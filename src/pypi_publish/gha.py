"""GitHub workflow commands (annotations, masks, groups, outputs, summary); plain text elsewhere."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


@dataclass
class Console:
    """Where the run talks to its user.

    In GitHub Actions (`GITHUB_ACTIONS=true`) it speaks workflow commands; elsewhere the
    same calls print plain text, so the CLI and the action share one code path.
    """

    actions: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    verbose: bool = False
    output_file: Path | None = None
    summary_file: Path | None = None
    _secrets: list[str] = field(default_factory=list)
    # Parallel uploads log from several threads; a line must never be split by another.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, verbose: bool = False,
                 out: TextIO | None = None) -> Console:
        actions = env.get("GITHUB_ACTIONS") == "true"
        output = env.get("GITHUB_OUTPUT") if actions else None
        summary = env.get("GITHUB_STEP_SUMMARY") if actions else None
        return cls(
            actions=actions,
            out=out or sys.stdout,
            verbose=verbose,
            output_file=Path(output) if output else None,
            summary_file=Path(summary) if summary else None,
        )

    # -- secrets ---------------------------------------------------------
    def add_secret(self, secret: str) -> None:
        """Mask `secret` in the runner's log and redact it from everything this console prints."""
        if not secret or secret in self._secrets:
            return
        self._secrets.append(secret)
        if self.actions:
            # The mask must reach the runner before any line that could contain the secret.
            self._write(f"::add-mask::{secret}")

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- lines -------------------------------------------------------------
    def _write(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def info(self, text: str) -> None:
        self._write(self.redact(text))

    def debug(self, text: str) -> None:
        if self.verbose:
            self._write(self.redact(text))

    def _annotate(self, kind: str, text: str, title: str | None) -> None:
        text = self.redact(text)
        if self.actions:
            props = f" title={_escape_property(title)}" if title else ""
            self._write(f"::{kind}{props}::{_escape_data(text)}")
        else:
            prefix = f"{kind}: {title}: " if title else f"{kind}: "
            self._write(prefix + text.replace("\n", "\n  "))

    def notice(self, text: str, title: str | None = None) -> None:
        self._annotate("notice", text, title)

    def warning(self, text: str, title: str | None = None) -> None:
        self._annotate("warning", text, title)

    def error(self, text: str, title: str | None = None) -> None:
        self._annotate("error", text, title)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.actions:
            self._write(f"::group::{self.redact(title)}")
        else:
            self._write(f"== {self.redact(title)}")
        try:
            yield
        finally:
            if self.actions:
                self._write("::endgroup::")

    # -- files -------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        value = self.redact(value)
        if self.output_file is None:
            self.debug(f"output {name}={value}")
            return
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with self.output_file.open("a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def add_summary(self, markdown: str) -> None:
        if self.summary_file is None:
            return
        with self.summary_file.open("a", encoding="utf-8") as handle:
            handle.write(self.redact(markdown) + "\n")
