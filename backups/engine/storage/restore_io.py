"""What a restore reads from and writes to a storage location: the backup's tarball (streamed to a
local file), its metadata and volume info, and the restore's own files under `restores/<name>/`."""

from __future__ import annotations

import gzip
import json
import os

from backups.engine.velero_format.layout import (
    RESTORE_FILES,
    metadata_key,
    restore_file_key,
    tarball_key,
    volume_info_key,
)

from .base import CHUNK_SIZE, ObjectNotFoundError, ObjectStore, StorageError


def download_backup_tarball(store: ObjectStore, backup: str, dest: str, prefix: str = "") -> int:
    """Stream `backups/<backup>/<backup>.tar.gz` to the local file `dest` (written whole or not at
    all); returns its size. ObjectNotFoundError when the backup has no tarball."""
    key = tarball_key(backup, prefix)
    tmp = dest + ".partial"
    size = 0
    try:
        with store.open(key) as src, open(tmp, "wb") as out:
            while chunk := src.read(CHUNK_SIZE):
                out.write(chunk)
                size += len(chunk)
        os.replace(tmp, dest)
    except OSError as exc:
        raise StorageError(
            f"cannot write {dest} while downloading {key} from {store.location}: {exc}"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return size


def read_backup_metadata(store: ObjectStore, backup: str, prefix: str = "") -> tuple[dict, list[dict]]:
    """(velero-backup.json, volume info entries) of a backup; the volume info is [] when the backup
    has none (written before Velero 1.14). ObjectNotFoundError without velero-backup.json."""
    with store.open(metadata_key(backup, prefix)) as f:
        try:
            backup_json = json.load(f)
        except ValueError as exc:
            raise StorageError(
                f"{metadata_key(backup, prefix)} in {store.location} is not JSON: {exc}"
            ) from exc
    infos: list[dict] = []
    try:
        with store.open(volume_info_key(backup, prefix)) as raw, gzip.GzipFile(fileobj=raw) as gz:
            data = json.load(gz)
            infos = data if isinstance(data, list) else []
    except ObjectNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        raise StorageError(
            f"{volume_info_key(backup, prefix)} in {store.location} cannot be read: {exc}"
        ) from exc
    return backup_json, infos


def upload_restore_files(store: ObjectStore, name: str, files: dict[str, str], prefix: str = "") -> None:
    """Put a restore's files (`log`, `results`, `resource-list` -> local path) under
    `restores/<name>/`, as Velero's PutRestoreLog/PutRestoreResults/PutRestoredResourceList do.
    A rerun replaces them. Raises StorageError."""
    unknown = sorted(set(files) - set(RESTORE_FILES))
    if unknown:
        raise ValueError(f"unknown restore file kind(s): {', '.join(unknown)}")
    if store.read_only:
        raise StorageError(f"{store.location} is read-only: refusing to upload restore {name}")
    for kind in ("log", "results", "resource-list"):
        path = files.get(kind)
        if path:
            store.put_file(restore_file_key(kind, name, prefix), path)
