"""One backup's files uploaded in Velero's order (log, metadata, tarball, the rest), rolled back on
failure (Velero's PutBackup)."""

from __future__ import annotations

from backups.engine.velero_format.layout import (
    BACKUP_FILES,
    EXTRA_FILES,
    backup_file_key,
    logs_key,
    metadata_key,
)

from .base import (
    ObjectStore,
    StorageError,
)

_REST_ORDER = [
    "results",
    "resource-list",
    "volume-snapshots",
    "pod-volume-backups",
    "item-operations",
    "volume-info",
    "index",
]


def upload_backup(store: ObjectStore, name: str, files: dict[str, str], prefix: str = "") -> list[str]:
    """Upload one backup's files in Velero's order; returns warnings, raises StorageError.

    `files` maps a kind (`log`, `metadata`, `tarball`, `results`, `resource-list`, `volume-snapshots`,
    `pod-volume-backups`, `item-operations`, `volume-info`, our `index`) to a local path; `metadata`
    and `tarball` are required. Refuses a name whose `velero-backup.json` already exists before
    writing anything.
    Order (Velero's PutBackup): log (a failure is only a warning), metadata, tarball, the rest. A
    failure after the log removes every key this call wrote (metadata first, so a half-removed backup
    is never visible), then raises; keys of other backups are never touched.
    """
    unknown = sorted(set(files) - set(BACKUP_FILES) - set(EXTRA_FILES))
    if unknown:
        raise ValueError(f"unknown backup file kind(s): {', '.join(unknown)}")
    for required in ("metadata", "tarball"):
        if not files.get(required):
            raise ValueError(f"backup {name}: the {required} file is required")
    meta = metadata_key(name, prefix)
    if store.exists(meta):
        raise StorageError(f"backup {name} already exists in {store.location}")
    if store.read_only:
        raise StorageError(f"{store.location} is read-only: refusing to upload backup {name}")

    warnings: list[str] = []
    written: list[str] = []
    if files.get("log"):
        key = logs_key(name, prefix)
        try:
            store.put_file(key, files["log"])
            written.append(key)
        except Exception as exc:
            warnings.append(f"backup log not uploaded: {exc}")

    for kind in ["metadata", "tarball", *_REST_ORDER]:
        path = files.get(kind)
        if not path:
            continue
        key = backup_file_key(kind, name, prefix)
        try:
            store.put_file(key, path)
        except Exception as exc:
            problems = _rollback(store, [key, *written], meta)
            note = (
                "; removed the partial backup" if not problems else f"; cleanup failed: {'; '.join(problems)}"
            )
            raise StorageError(f"backup {name}: uploading the {kind} failed: {exc}{note}") from exc
        written.append(key)
    return warnings


def _rollback(store: ObjectStore, keys: list[str], meta: str) -> list[str]:
    """Delete `keys` (metadata first); returns the problems met, never raises."""
    ordered = [meta] if meta in keys else []
    ordered += [k for k in reversed(keys) if k != meta]
    problems = []
    for key in ordered:
        try:
            store.delete(key)
        except Exception as exc:  # keep deleting the others
            problems.append(str(exc))
    return problems
