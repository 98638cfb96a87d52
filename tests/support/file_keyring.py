"""A `keyring` backend for tests: one password for one (service, user), read from a file the test writes.

Chosen through keyring's own switch, `PYTHON_KEYRING_BACKEND=tests.support.file_keyring.FileKeyring`
(with the repository on `PYTHONPATH`); `TEST_KEYRING_FILE` holds a JSON object
`{"service": …, "username": …, "password": …}` written at run time.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        entry = json.loads(Path(os.environ["TEST_KEYRING_FILE"]).read_text(encoding="utf-8"))
        if (service, username) == (entry["service"], entry["username"]):
            return str(entry["password"])
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        raise NotImplementedError("a read-only keyring")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError("a read-only keyring")
