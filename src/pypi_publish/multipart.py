"""A multipart/form-data body that streams the file from disk, with its length known up front."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


class MultipartBody:
    """A file-like body: `read(n)` yields the form's bytes; `len()` gives Content-Length.

    requests streams any object with `read` and sizes it with `len`, so memory stays flat
    whatever the file's size. `on_read`, when set, is told how many of the file's own bytes
    each read took (for progress: the form's few other bytes do not count).
    """

    def __init__(self, fields: Sequence[tuple[str, str]], file_field: str, path: Path,
                 on_read: Callable[[int], None] | None = None) -> None:
        self.boundary = uuid.uuid4().hex
        head = bytearray()
        for name, value in fields:
            head += (f"--{self.boundary}\r\nContent-Disposition: form-data; "
                     f'name="{_quote(name)}"\r\n\r\n').encode()
            head += value.encode("utf-8") + b"\r\n"
        head += (f"--{self.boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; "
                 f'filename="{_quote(path.name)}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n").encode()
        self._head = bytes(head)
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._path = path
        self._file_size = path.stat().st_size
        self._file: BinaryIO | None = None
        self._stage = 0  # 0: head, 1: file, 2: tail, 3: done
        self._offset = 0
        self.on_read = on_read
        self.sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self._head) + self._file_size + len(self._tail)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self)
        out = bytearray()
        while len(out) < size and self._stage < 3:
            want = size - len(out)
            if self._stage == 0:
                chunk = self._head[self._offset:self._offset + want]
            elif self._stage == 1:
                if self._file is None:
                    self._file = self._path.open("rb")
                chunk = self._file.read(want)
            else:
                chunk = self._tail[self._offset:self._offset + want]
            if not chunk:
                self._next_stage()
                continue
            out += chunk
            if self._stage != 1:
                self._offset += len(chunk)
            elif self.on_read is not None:
                self.on_read(len(chunk))
        self.sent += len(out)
        return bytes(out)

    def _next_stage(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._stage += 1
        self._offset = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
