"""The one error the launcher reports: a title and a message for an `::error` annotation."""

from __future__ import annotations


class LaunchError(Exception):
    def __init__(self, title: str, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.title = title
        self.message = message
        self.exit_code = exit_code
