"""What a restore reads from and writes to a storage location: a backup's tarball streamed to a
local file, its metadata and volume info, the restore's files under `restores/<name>/`; local and S3."""

import gzip
import json

import pytest

from backups.engine.storage import LocalStore, ObjectNotFoundError, StorageError
from backups.engine.storage.restore_io import (
    download_backup_tarball,
    read_backup_metadata,
    upload_restore_files,
)
from tests.engine.storage.test_storage import s3_endpoint, s3_store  # noqa: F401  (fixture)


def _seed(store, name="b1", with_info=True):
    store.put_bytes(f"backups/{name}/velero-backup.json", json.dumps({"metadata": {"name": name}}).encode())
    store.put_bytes(f"backups/{name}/{name}.tar.gz", b"t" * 3_000_000)
    if with_info:
        store.put_bytes(f"backups/{name}/{name}-volumeinfo.json.gz", gzip.compress(b'[{"pvName": "pv-1"}]'))


def _restore_files(tmp_path):
    files = {}
    for kind, name in (("log", "restore-r1-logs.gz"), ("results", "restore-r1-results.gz"),
                       ("resource-list", "restore-r1-resource-list.json.gz")):  # fmt: skip
        path = tmp_path / name
        path.write_bytes(gzip.compress(kind.encode()))
        files[kind] = str(path)
    return files


def _check(store, tmp_path):
    _seed(store)
    dest = tmp_path / "local.tar.gz"
    assert download_backup_tarball(store, "b1", str(dest)) == 3_000_000
    assert dest.read_bytes() == b"t" * 3_000_000
    backup_json, infos = read_backup_metadata(store, "b1")
    assert backup_json["metadata"]["name"] == "b1" and infos == [{"pvName": "pv-1"}]
    _seed(store, "old", with_info=False)
    assert read_backup_metadata(store, "old")[1] == []
    with pytest.raises(ObjectNotFoundError):
        download_backup_tarball(store, "nope", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()

    upload_restore_files(store, "r1", _restore_files(tmp_path))
    assert sorted(store.list_keys("restores/")) == [
        "restores/r1/restore-r1-logs.gz",
        "restores/r1/restore-r1-resource-list.json.gz",
        "restores/r1/restore-r1-results.gz",
    ]
    with pytest.raises(ValueError, match="unknown restore file"):
        upload_restore_files(store, "r1", {"tarball": "x"})


def test_local(tmp_path):
    _check(LocalStore(str(tmp_path / "store")), tmp_path)


def test_s3(s3_endpoint, tmp_path):  # noqa: F811
    _check(s3_store(s3_endpoint), tmp_path)


def test_read_only_location_refuses_restore_files(tmp_path):
    (tmp_path / "store").mkdir()
    store = LocalStore(str(tmp_path / "store"), read_only=True)
    with pytest.raises(StorageError, match="read-only"):
        upload_restore_files(store, "r1", _restore_files(tmp_path))
