"""`LocalStore`: a directory. Every write goes to a temp file next to the target and is renamed into
place, so a full disk or a crash never leaves a half-written object under its real key."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import IO, BinaryIO

from backups.engine.velero_format.layout import (
    backup_dir,
)

from .base import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ObjectNotFoundError,
    StorageError,
    backups_prefix,
    check_key,
    check_prefix,
    check_range,
    os_cause,
)


class LocalStore:
    """A directory; key `a/b` is the file `<root>/a/b`."""

    def __init__(self, root: str, read_only: bool = False):
        if not root:
            raise ValueError("local storage needs a path")
        self.root = os.path.abspath(os.fspath(root))
        self.read_only = read_only
        self.location = f"local storage {self.root}"

    def __repr__(self) -> str:
        return f"LocalStore(root={self.root!r}, read_only={self.read_only})"

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def _error(self, cause: str, action: str, key: str) -> StorageError:
        return StorageError(f"{self.location}: {cause} while {action} {key}")

    def _writable(self, key: str) -> None:
        if self.read_only:
            raise StorageError(f"{self.location} is read-only: refusing to write {key}")

    # writes

    def put_file(self, key: str, path: str) -> None:
        self._writable(key)
        try:
            src = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise self._error(f"cannot read local file {path} ({os_cause(exc)})", "writing", key) from exc
        with src:
            self.put_stream(key, src)

    def put_bytes(self, key: str, data: bytes) -> None:
        import io

        self.put_stream(key, io.BytesIO(data))

    def put_stream(self, key: str, stream: IO[bytes]) -> None:
        """Copy `stream` to a temp file next to the target, fsync, then rename onto the key."""
        self._writable(key)
        dest = self._path(key)
        parent = os.path.dirname(dest)
        try:
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=parent)
        except OSError as exc:
            raise self._error(os_cause(exc), "writing", key) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    try:
                        chunk = stream.read(CHUNK_SIZE)
                    except OSError as exc:
                        raise self._error(
                            f"cannot read the source ({os_cause(exc)})", "writing", key
                        ) from exc
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise self._error(os_cause(exc), "writing", key) from exc
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise self._error(os_cause(exc), "writing", key) from exc
            try:
                os.replace(tmp, dest)
            except OSError as exc:
                raise self._error(os_cause(exc), "writing", key) from exc
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                # e.g. closing the temp file on a full disk
                raise self._error(os_cause(exc), "writing", key) from exc
            raise

    def delete(self, key: str) -> None:
        self._writable(key)
        path = self._path(key)
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error(os_cause(exc), "deleting", key) from exc
        self._prune(os.path.dirname(path))

    def delete_backup(self, name: str, prefix: str = "") -> None:
        directory = backup_dir(name, prefix).rstrip("/")
        self._writable(directory + "/")
        path = self._path(directory)
        if os.path.islink(path):
            raise self._error("backup directory is a symbolic link", "deleting", directory + "/")
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error(os_cause(exc), "deleting", directory + "/") from exc

    def _prune(self, directory: str) -> None:
        """Remove empty directories from `directory` up to (not including) the root."""
        while directory != self.root and directory.startswith(self.root + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    # reads

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"{self.location}: {key} does not exist") from exc
        except OSError as exc:
            raise self._error(os_cause(exc), "reading", key) from exc

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer at the end of the file): one seek and one read."""
        check_range(key, offset, length)
        try:
            with open(self._path(key), "rb") as f:
                f.seek(offset)
                return f.read(length)
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"{self.location}: {key} does not exist") from exc
        except OSError as exc:
            raise self._error(os_cause(exc), "reading", key) from exc

    def size(self, key: str) -> int:
        try:
            return os.path.getsize(self._path(key))
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"{self.location}: {key} does not exist") from exc
        except OSError as exc:
            raise self._error(os_cause(exc), "reading", key) from exc

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix`, sorted; temp files of writes in progress are not listed."""
        check_prefix(prefix)
        start_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *start_rel.split("/")) if start_rel else self.root
        if not os.path.isdir(start):
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(start, onerror=None):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            for filename in filenames:
                if filename.startswith(TEMP_PREFIX):
                    continue
                key = rel_dir + filename
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def list_backups(self, prefix: str = "") -> list[str]:
        base = backups_prefix(prefix)
        check_prefix(base)
        path = os.path.join(self.root, *base.rstrip("/").split("/"))
        try:
            entries = os.listdir(path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error(os_cause(exc), "listing", base) from exc
        folders = (os.path.join(path, e) for e in entries)
        return sorted(os.path.basename(f) for f in folders if os.path.isdir(f) and _has_entries(f))

    def check(self, create: bool = False) -> None:
        """The root exists and is writable (readable if read-only). A missing root is created only when
        asked (an admin saving the location): a vanished mount must read as unreachable, not as empty."""
        if not os.path.exists(self.root):
            if self.read_only or not create:
                raise StorageError(f"{self.location}: directory does not exist")
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"{self.location}: cannot create the directory ({os_cause(exc)})") from exc
        if not os.path.isdir(self.root):
            raise StorageError(f"{self.location}: not a directory")
        if self.read_only:
            if not os.access(self.root, os.R_OK | os.X_OK):
                raise StorageError(f"{self.location}: directory is not readable")
            return
        try:
            fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX + "probe-", dir=self.root)
            try:
                os.write(fd, b"veloweb")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise StorageError(f"{self.location}: directory is not writable ({os_cause(exc)})") from exc


def _has_entries(directory: str) -> bool:
    """A backup folder is listed when it holds something, or cannot be read: then reading its
    velero-backup.json says why, for that backup alone, instead of failing the whole listing."""
    try:
        return bool(os.listdir(directory))
    except OSError:
        return True
