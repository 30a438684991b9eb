"""The object store interface every store implements (`ObjectStore`), its errors and its keys:
`/`-separated paths relative to the store (its root directory, or its bucket and prefix); `..`
segments and absolute keys are refused with ValueError. Every storage failure is a `StorageError`
whose message names the location, the key and the cause."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import IO, BinaryIO, Protocol, runtime_checkable

CHUNK_SIZE = 1024 * 1024
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK_SIZE = 8 * 1024 * 1024
DELETE_BATCH = 1000  # S3 DeleteObjects accepts at most 1000 keys per request

TEMP_PREFIX = ".veloweb-tmp-"


class StorageError(Exception):
    """A storage operation failed; the message names the location, the key and the cause."""


class ObjectNotFoundError(StorageError):
    """The key does not exist in the store."""


@runtime_checkable
class ObjectStore(Protocol):
    location: str
    read_only: bool

    def put_file(self, key: str, path: str) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_stream(self, key: str, stream: IO[bytes]) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    def list_backups(self, prefix: str = "") -> list[str]: ...

    def open(self, key: str) -> BinaryIO: ...

    def size(self, key: str) -> int: ...

    def read_range(self, key: str, offset: int, length: int) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def delete_backup(self, name: str, prefix: str = "") -> None: ...

    def check(self, create: bool = False) -> None: ...


# --- keys ---------------------------------------------------------------------------------------------


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key; ValueError for empty, absolute or `..` keys."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid storage key: {key!r}")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must be a relative path: {key!r}")
    parts = key.split("/")
    if any(part in ("..", ".") for part in parts) or "" in parts[:-1] or not parts[-1]:
        raise ValueError(f"invalid storage key (no '..', '.', empty segments or trailing '/'): {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix ("" allowed, a trailing `/` allowed); returns it unchanged."""
    if prefix:
        check_key(prefix.rstrip("/") or "/")
    return prefix


def check_range(key: str, offset: int, length: int) -> None:
    """A ranged read needs a non-negative offset and a positive length."""
    if offset < 0 or length <= 0:
        raise ValueError(f"invalid range of {key}: offset {offset}, length {length}")


def backups_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/backups/" if prefix else "backups/"


_ERRNO_CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
}


def os_cause(exc: OSError) -> str:
    cause = _ERRNO_CAUSES.get(exc.errno or 0)
    return cause or (exc.strerror or str(exc)).lower()
