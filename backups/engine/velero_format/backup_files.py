"""Velero's files of one backup (`layout.BACKUP_FILES`), written by one writer for both runners:
the sequential one (`sequential_backup`) and the workers' finalize step.

The tarball is assembled from the blocks' archive members; the resource list, the volume info,
the results and the log are gzip JSON; `velero-backup.json` is written last, so its presence means
the backup is complete.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable

from backups.engine.items import ItemKey
from backups.engine.log import LogEntry

from .archive import _written_atomically, assemble_tarball
from .backup_json import dump_backup_json
from .layout import backup_file_name
from .log_text import format_lines
from .tarball_index import write_index_of_members


def write_gzip_json(path: str, data, *, pretty: bool = False) -> int:
    """Write `data` as gzip JSON (compact + newline, like Go's json.Encoder), atomically. Returns size."""
    body = (json.dumps(data, indent=2) if pretty else json.dumps(data, separators=(",", ":"))) + "\n"
    with _written_atomically(path) as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(body.encode("utf-8"))
    return os.path.getsize(path)


def write_log_lines(path: str, entries: Iterable[LogEntry], backup: str, run_field: str = "backup") -> int:
    """The backup log (`<name>-logs.gz`): gzip text in Velero's logrus format (`log_text`), one
    line per entry, written atomically."""
    with _written_atomically(path) as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            for line in format_lines(entries, backup, run_field):
                gz.write(line)
    return os.path.getsize(path)


def _api_version(key: ItemKey) -> str:
    return f"{key.group}/{key.version}" if key.group else key.version


def resource_list(items: Iterable[tuple[ItemKey, str]]) -> dict[str, list[str]]:
    """Velero's `<name>-resource-list.json.gz` content from `(key, kind)` pairs of backed-up items.

    `{"<apiVersion>/<Kind>": sorted(["ns/name" | "name", ...])}`, keys sorted, duplicates dropped
    (Velero builds it from the BackedUpItems set). The kind comes from the object (`obj["kind"]`)
    or from `ResourceInfo.kind`.
    """
    grouped: dict[str, set[str]] = {}
    for key, kind in items:
        entry = f"{key.namespace}/{key.name}" if key.namespace else key.name
        grouped.setdefault(f"{_api_version(key)}/{kind}", set()).add(entry)
    return {k: sorted(v) for k, v in sorted(grouped.items())}


def velero_message(entry: LogEntry) -> str:
    """Velero's results-file text for a log line (LogHook): `resource: /<gr> name: /<name> message: /<msg>`,
    each part only when known."""
    parts = []
    if entry.resource:
        parts.append(f"resource: /{entry.resource}")
    if entry.name:
        parts.append(f"name: /{entry.name}")
    parts.append(f"message: /{entry.message}")
    return " ".join(parts)


def _empty_result() -> dict:
    return {"velero": [], "cluster": [], "namespaces": {}}


def results_file(entries: Iterable[LogEntry]) -> dict:
    """`{"errors": R, "warnings": R}`, R = `{"velero": [...], "cluster": [...], "namespaces": {ns: [...]}}`.

    Filing (Velero's LogHook + Result.Add): an entry with a namespace goes to `namespaces[ns]`; one that
    names a resource but no namespace to `cluster`; anything else to `velero`. Info lines are not filed.
    Messages keep log order; namespaces are sorted (as Go marshals maps). All three keys are always
    present (Velero omits empty ones; its reader accepts both).
    """
    out = {"errors": _empty_result(), "warnings": _empty_result()}
    for entry in entries:
        level = entry.level.lower()
        if level == "error":
            result = out["errors"]
        elif level in ("warning", "warn"):
            result = out["warnings"]
        else:
            continue
        text = velero_message(entry)
        if entry.namespace:
            result["namespaces"].setdefault(entry.namespace, []).append(text)
        elif entry.resource:
            result["cluster"].append(text)
        else:
            result["velero"].append(text)
    for result in out.values():
        result["namespaces"] = dict(sorted(result["namespaces"].items()))
    return out


class BackupFilesWriter:
    """Writes one backup's files into `folder` under their Velero names: `write_contents` first,
    then `write_metadata`, whose file's presence means the backup is complete."""

    def __init__(self, folder: str, name: str):
        self.folder, self.name = folder, name
        self.files: dict[str, str] = {}  # kind -> path of each file written

    def path(self, kind: str) -> str:
        return os.path.join(self.folder, backup_file_name(kind, self.name))

    def _written(self, kind: str) -> str:
        self.files[kind] = path = self.path(kind)
        return path

    def write_contents(
        self,
        members: list[str],
        written: Iterable[tuple[ItemKey, str]],
        entries: list[LogEntry],
        volume_infos: list[dict],
    ) -> int:
        """The tarball (from the archive members, in order) and its index, the resource list of
        the items written, the volume info, the results and the log; the tarball's size."""
        offsets: list[int] = []
        size = assemble_tarball(members, self._written("tarball"), member_offsets=offsets)
        write_index_of_members(members, offsets, self._written("index"), tarball_size=size)
        write_gzip_json(self._written("resource-list"), resource_list(written))
        write_gzip_json(self._written("volume-info"), volume_infos)
        write_gzip_json(self._written("results"), results_file(entries))
        write_log_lines(self._written("log"), entries, self.name)
        return size

    def write_metadata(self, backup_json: dict) -> None:
        """`velero-backup.json`, atomically."""
        with _written_atomically(self._written("metadata")) as out:
            out.write(dump_backup_json(backup_json))
