"""What happened to each file: the statuses an upload can end in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .distribution import Distribution


class Status(Enum):
    UPLOADED = "uploaded"
    PRESENT = "already on the index"  # identical file there already: success, nothing sent
    SKIPPED = "skipped"  # skip-existing: a file of that name is there (content differs or unknown)
    FAILED = "failed"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class FileResult:
    dist: Distribution
    status: Status
    detail: str = ""
    attempts: int = 0
    seconds: float = 0.0
