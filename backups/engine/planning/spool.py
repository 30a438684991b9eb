"""The collection spool: every collected object written once, read back by the block that owns it.

Velero writes each listed object to a temp file and the block re-reads it; this is the same idea in
one append-only file, so block jobs (in other processes) get the object as it was collected without
asking the API server again, and the dispatcher keeps only offsets in memory.
"""

from __future__ import annotations

import os

import orjson


class Spool:
    """Append-only JSON records addressed by (offset, length)."""

    def __init__(self, path: str):
        self.path = path
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._offset = self._file.tell()

    def put(self, obj: dict) -> tuple[int, int]:
        data = orjson.dumps(obj)
        offset = self._offset
        self._file.write(data)
        self._offset += len(data)
        return offset, len(data)

    def flush(self) -> None:
        """Make what was put so far readable by a SpoolReader (a preview reads as it plans)."""
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SpoolReader:
    """Reads records by location; one open file per reader (one per block job)."""

    def __init__(self, path: str):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()

    def get(self, offset: int, length: int) -> dict:
        return orjson.loads(self.get_raw(offset, length))

    def get_raw(self, offset: int, length: int) -> bytes:
        """The record as stored: compact JSON, ready to go into an archive without re-encoding."""
        self._file.seek(offset)
        data = self._file.read(length)
        if len(data) != length:
            raise OSError(f"spool {self._file.name} is truncated at offset {offset}")
        return data

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpoolReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
