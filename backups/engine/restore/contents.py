"""A Velero backup's tarball read for a restore: an index of its objects and a spool of their bodies.

`BackupContents.open` streams the tarball once (gzip, multi-member aware) and writes each object it
will restore as one JSON line into `<work_dir>/objects.jsonl`; it keeps only an index entry per
object (`BackupEntry`: resource, namespace, name, version, where its line is), so 300,000 objects
never sit in memory. `BackupContents.load(work_dir)` reopens that folder from another process (a
worker of the same restore), and `read(entry)` reads one object back by offset.

Which copy of an object is restored follows Velero with EnableAPIGroupVersions off (its default):
the unversioned copy (`resources/<gr>/namespaces/<ns>/<name>.json`, the source cluster's preferred
version, kept by Velero for that purpose); a backup that has only versioned directories (written
with the feature on) gives its `<v>-preferredversion/` copy, and failing that the only version
there is (several without a preferred one: the first in Kubernetes' version order).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import tarfile
import threading
import zlib
from collections.abc import Iterator
from sys import intern
from typing import BinaryIO, NamedTuple

import orjson

from backups.engine.velero_format.layout import PREFERRED_VERSION_SUFFIX, VERSION_ENTRY, parse_item_path

OBJECTS_FILE = "objects.jsonl"
INDEX_FILE = "index.json"
SUPPORTED_FORMAT_MAJOR = "1"


class BackupReadError(ValueError):
    """The file is not a Velero backup tarball Veloweb can restore; the message says why."""


class BackupEntry(NamedTuple):
    """One object of the backup: its resource (plural) and group, the version it was stored at, its
    backed-up namespace ("" for cluster scope) and name, and where its JSON line is in the spool."""

    group: str
    version: str
    resource: str
    namespace: str
    name: str
    offset: int
    length: int

    @property
    def group_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _kube_version_key(version: str) -> tuple:
    """Kubernetes' version priority (GA > beta > alpha, higher first), for choosing among versions."""
    match = re.match(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$", version)
    if not match:
        return (3, 0, 0, version)
    stage = {None: 0, "beta": 1, "alpha": 2}[match.group(2)]
    return (stage, -int(match.group(1)), -int(match.group(3) or 0), version)


# candidate ranks: lower wins
_UNVERSIONED, _PREFERRED, _OTHER = 0, 1, 2


class BackupContents:
    """The objects of one backup, indexed (see the module docstring). Thread-safe reads."""

    def __init__(
        self,
        work_dir: str,
        entries: list[BackupEntry],
        *,
        format_version: str = "",
        backup: dict | None = None,
        volume_infos: list[dict] | None = None,
    ):
        self.work_dir = work_dir
        self.format_version = format_version
        self.backup = backup  # velero-backup.json, when given
        self.volume_infos = list(volume_infos or [])
        self._entries = entries  # sorted by (group_resource, namespace, name)
        self._by_gr: dict[str, tuple[int, int]] = {}
        start = 0
        for i in range(1, len(entries) + 1):
            if i == len(entries) or entries[i].group_resource != entries[start].group_resource:
                self._by_gr[entries[start].group_resource] = (start, i)
                start = i
        self._fd: int | None = None
        self._fd_lock = threading.Lock()

    # ------------------------------------------------------------------ build

    @classmethod
    def open(
        cls,
        tarball: str | BinaryIO,
        work_dir: str,
        *,
        backup: dict | None = None,
        volume_infos: list[dict] | None = None,
    ) -> BackupContents:
        """Index a backup tarball (a path or a binary file object) into `work_dir` (created).

        `backup` is the backup's velero-backup.json and `volume_infos` its volume info list, when
        the caller has them (both are kept in the folder for `load`). Raises BackupReadError for a
        file that is not a gzip tar, has no `metadata/version`, or a format other than 1.x.
        """
        os.makedirs(work_dir, exist_ok=True)
        spool_path = os.path.join(work_dir, OBJECTS_FILE)
        # "<gr>/<ns>/<name>" -> index in `found`; `ranks` parallel: compact for 300,000 objects
        chosen: dict[str, int] = {}
        found: list[BackupEntry] = []
        ranks = bytearray()
        format_version = ""
        try:
            raw: BinaryIO = open(tarball, "rb") if isinstance(tarball, str) else tarball  # noqa: SIM115
        except OSError as exc:
            raise BackupReadError(f"cannot read the backup tarball {tarball}: {exc.strerror or exc}") from exc
        try:
            with (
                gzip.GzipFile(fileobj=raw, mode="rb") as gz,
                open(spool_path, "wb") as spool,
            ):
                try:
                    tar = tarfile.open(fileobj=gz, mode="r|")
                except (tarfile.TarError, OSError, EOFError) as exc:
                    raise BackupReadError(f"not a gzip-compressed tar file: {exc}") from exc
                offset = 0
                try:
                    for member in tar:
                        tar.members = []  # type: ignore[attr-defined]  # stream mode keeps every header read
                        if not member.isfile():
                            continue
                        if member.name == VERSION_ENTRY:
                            body = tar.extractfile(member)
                            format_version = (body.read() if body else b"").decode("utf-8", "replace").strip()
                            continue
                        parsed = parse_item_path(member.name)
                        if parsed is None:
                            continue
                        version_dir = parsed["version_dir"]
                        rank = (
                            _UNVERSIONED if not version_dir else _PREFERRED if parsed["preferred"] else _OTHER
                        )
                        key = f"{parsed['group_resource']}/{parsed['namespace']}/{parsed['name']}"
                        at = chosen.get(key)
                        if at is not None and ranks[at] < rank:
                            continue
                        if at is not None and ranks[at] == rank == _OTHER:
                            if _kube_version_key(version_dir) >= _kube_version_key(found[at].version):
                                continue
                        body = tar.extractfile(member)
                        data = body.read() if body else b""
                        try:
                            obj = orjson.loads(data)
                        except orjson.JSONDecodeError as exc:
                            raise BackupReadError(f"{member.name} is not valid JSON: {exc}") from exc
                        if not isinstance(obj, dict):
                            raise BackupReadError(f"{member.name} does not hold a Kubernetes object")
                        line = orjson.dumps(obj) + b"\n"
                        spool.write(line)
                        if version_dir:
                            version = version_dir.removesuffix(PREFERRED_VERSION_SUFFIX)
                        else:
                            version = str(obj.get("apiVersion") or "").rpartition("/")[2]
                        resource, _, group = parsed["group_resource"].partition(".")
                        entry = BackupEntry(  # shared strings: 300,000 entries name few resources
                            intern(group),
                            intern(version),
                            intern(resource),
                            intern(parsed["namespace"]),
                            parsed["name"],
                            offset,
                            len(line),
                        )
                        offset += len(line)
                        if at is None:
                            chosen[key] = len(found)
                            found.append(entry)
                            ranks.append(rank)
                        else:
                            found[at], ranks[at] = entry, rank
                except (tarfile.TarError, EOFError, zlib.error) as exc:
                    raise BackupReadError(f"the backup tarball is damaged: {exc}") from exc
        except (gzip.BadGzipFile, OSError) as exc:
            if isinstance(exc, BackupReadError):
                raise
            raise BackupReadError(f"not a gzip-compressed tar file: {exc}") from exc
        finally:
            if isinstance(tarball, str):
                raw.close()
        if not format_version:
            raise BackupReadError("no metadata/version entry: not a Velero backup tarball")
        if format_version.split(".")[0] != SUPPORTED_FORMAT_MAJOR:
            raise BackupReadError(f"backup format {format_version} is not supported (1.x is)")
        del chosen, ranks
        found.sort(key=lambda e: (e.group_resource, e.namespace, e.name))
        entries = found
        contents = cls(
            work_dir, entries, format_version=format_version, backup=backup, volume_infos=volume_infos
        )
        contents._save_index()
        return contents

    def _save_index(self) -> None:
        path = os.path.join(self.work_dir, INDEX_FILE)
        with open(path + ".tmp", "wb") as out:
            out.write(
                orjson.dumps(
                    {
                        "format_version": self.format_version,
                        "backup": self.backup,
                        "volume_infos": self.volume_infos,
                        "entries": [tuple(e) for e in self._entries],
                    }
                )
            )
        os.replace(path + ".tmp", path)

    @classmethod
    def load(cls, work_dir: str) -> BackupContents:
        """Reopen contents indexed by `open` (in this or another process)."""
        path = os.path.join(work_dir, INDEX_FILE)
        try:
            with open(path, "rb") as f:
                doc = orjson.loads(f.read())
        except FileNotFoundError:
            raise BackupReadError(f"{work_dir} holds no indexed backup (no {INDEX_FILE})") from None
        entries = [
            BackupEntry(intern(g), intern(v), intern(r), intern(ns), name, offset, length)
            for g, v, r, ns, name, offset, length in doc["entries"]
        ]
        return cls(
            work_dir,
            entries,
            format_version=doc.get("format_version", ""),
            backup=doc.get("backup"),
            volume_infos=doc.get("volume_infos"),
        )

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, group_resource: str | None = None) -> list[BackupEntry]:
        """Every entry (sorted by resource, namespace, name), or those of one `resource.group`."""
        if group_resource is None:
            return self._entries
        start, end = self._by_gr.get(group_resource, (0, 0))
        return self._entries[start:end]

    def group_resources(self) -> list[str]:
        """The `resource.group` names the backup holds, sorted."""
        return sorted(self._by_gr)

    def namespaces(self) -> list[str]:
        """Backed-up namespaces of namespaced items and of namespace objects, sorted."""
        found = {e.namespace for e in self._entries if e.namespace}
        found.update(e.name for e in self.entries("namespaces"))
        return sorted(found)

    def read(self, entry: BackupEntry) -> dict:
        """The backed-up object of one entry (a fresh dict the caller may change)."""
        return self.read_at(entry.offset, entry.length)

    def read_at(self, offset: int, length: int) -> dict:
        """The object whose JSON line is at `offset` (a PlannedItem's offset and length). One file
        descriptor read with pread, so threads share it safely."""
        if self._fd is None:
            with self._fd_lock:
                if self._fd is None:
                    self._fd = os.open(os.path.join(self.work_dir, OBJECTS_FILE), os.O_RDONLY)
        return orjson.loads(os.pread(self._fd, length, offset))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def iter_objects(self, entries: list[BackupEntry]) -> Iterator[tuple[BackupEntry, dict]]:
        """(entry, object) for entries in spool order, one open file, one object at a time."""
        with open(os.path.join(self.work_dir, OBJECTS_FILE), "rb") as f:
            for entry in entries:
                f.seek(entry.offset)
                yield entry, orjson.loads(f.read(entry.length))


def read_json_gz(data: bytes) -> object:
    """A gzip JSON file's content (volume info, results), for callers that downloaded one."""
    return json.load(io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(data)), encoding="utf-8"))
