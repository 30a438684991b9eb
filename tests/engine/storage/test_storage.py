"""Object stores: LocalStore on real directories (and a tiny tmpfs for a full disk), S3Store against a
real local S3 server (moto's server mode), and upload_backup's order and rollback on both."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import uuid

import pytest

from backups.engine.storage import (
    LocalStore,
    ObjectNotFoundError,
    ObjectStore,
    S3Store,
    StorageError,
    store_from_config,
    upload_backup,
)
from backups.engine.velero_format.layout import (
    backup_dir,
    logs_key,
    metadata_key,
    resource_list_key,
    results_key,
    tarball_key,
)

SECRET = "sEcReT-never-shown-0123456789"


# --- helpers ------------------------------------------------------------------------------------------


def write(path, data: bytes) -> str:
    path = str(path)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def backup_files(tmp_path, name: str) -> dict[str, str]:
    d = tmp_path / f"src-{name}-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    return {
        "log": write(d / "log.gz", b"log of " + name.encode()),
        "metadata": write(d / "meta.json", b'{"kind": "Backup"}'),
        "tarball": write(d / "b.tar.gz", b"tar" * 1000),
        "results": write(d / "results.gz", b"results"),
        "resource-list": write(d / "rl.gz", b"resource list"),
        "volume-snapshots": write(d / "vs.gz", b"[]"),
    }


def read(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as fh:
        return fh.read()


class RecordingStore(LocalStore):
    """A LocalStore that records every put and delete, in order."""

    def __init__(self, root):
        super().__init__(root)
        self.calls: list[tuple[str, str]] = []

    def put_file(self, key, path):
        self.calls.append(("put", key))
        super().put_file(key, path)

    def delete(self, key):
        self.calls.append(("delete", key))
        super().delete(key)


class FailingReader(io.RawIOBase):
    """Yields `chunks` chunks of data, then fails like a broken disk."""

    def __init__(self, chunks: int):
        self.left = chunks

    def readable(self):
        return True

    def read(self, size=-1):
        if self.left == 0:
            raise OSError(5, "Input/output error")
        self.left -= 1
        return b"x" * 65536


def temp_leftovers(root) -> list[str]:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files if f.startswith(".veloweb-tmp-")]
    return found


# --- keys and config ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/./b", "a/"])
def test_unsafe_keys_rejected(tmp_path, key):
    store = LocalStore(str(tmp_path / "root"))
    with pytest.raises(ValueError):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError):
        store.exists(key)
    assert not (tmp_path / "x").exists()


def test_store_from_config(tmp_path):
    local = store_from_config({"provider": "local", "path": str(tmp_path)})
    assert isinstance(local, LocalStore) and local.root == str(tmp_path)
    s3 = store_from_config(
        {
            "provider": "s3",
            "bucket": "velo",
            "prefix": "/cluster-a/",
            "region": "",
            "endpoint_url": "http://127.0.0.1:9",
            "access_key_id": "AK",
            "secret_access_key": SECRET,
        }
    )
    assert isinstance(s3, S3Store)
    assert (s3.bucket, s3.prefix, s3.region, s3.endpoint_url) == (
        "velo",
        "cluster-a",
        None,
        "http://127.0.0.1:9",
    )
    assert SECRET not in repr(s3) and SECRET not in s3.location
    with pytest.raises(ValueError):
        store_from_config({"provider": "gcs", "bucket": "x"})
    with pytest.raises(ValueError):
        store_from_config({"provider": "s3"})
    with pytest.raises(ValueError):
        store_from_config({"provider": "local"})


# --- LocalStore ---------------------------------------------------------------------------------------


def test_local_put_get_list_delete(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    store.check(create=True)
    assert isinstance(store, ObjectStore)
    store.put_bytes("backups/b1/velero-backup.json", b"{}")
    store.put_file("backups/b1/b1.tar.gz", write(tmp_path / "t", b"t" * 3_000_000))
    store.put_bytes("backups/b2/velero-backup.json", b"{2}")
    store.put_bytes("other/x", b"x")

    assert read(store, "backups/b1/velero-backup.json") == b"{}"
    assert store.size("backups/b1/b1.tar.gz") == 3_000_000
    assert store.exists("backups/b1/b1.tar.gz") and not store.exists("backups/b1/nope")
    assert list(store.list_keys("backups/b1/")) == ["backups/b1/b1.tar.gz", "backups/b1/velero-backup.json"]
    assert list(store.list_keys("backups/b")) == [
        "backups/b1/b1.tar.gz",
        "backups/b1/velero-backup.json",
        "backups/b2/velero-backup.json",
    ]
    assert len(list(store.list_keys())) == 4
    assert store.list_backups() == ["b1", "b2"]

    store.put_bytes("backups/b1/velero-backup.json", b"{new}")  # overwrite
    assert read(store, "backups/b1/velero-backup.json") == b"{new}"

    store.delete("backups/b2/velero-backup.json")
    store.delete("backups/b2/velero-backup.json")  # missing is fine
    assert store.list_backups() == ["b1"]
    assert not (tmp_path / "root" / "backups" / "b2").exists()  # empty dirs pruned
    with pytest.raises(ObjectNotFoundError):
        store.open("backups/b2/velero-backup.json")
    with pytest.raises(StorageError):
        store.size("backups/b2/velero-backup.json")


def test_local_put_is_atomic_when_the_source_fails(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    store.put_bytes("backups/b1/b1.tar.gz", b"old content")

    with pytest.raises(StorageError) as info:
        store.put_stream("backups/b1/b1.tar.gz", FailingReader(chunks=3))
    assert "backups/b1/b1.tar.gz" in str(info.value) and str(store.root) in str(info.value)
    assert read(store, "backups/b1/b1.tar.gz") == b"old content"
    assert temp_leftovers(store.root) == []

    with pytest.raises(StorageError):  # a source that is a directory
        store.put_file("backups/b1/new.gz", str(tmp_path))
    with pytest.raises(StorageError):  # a missing source
        store.put_file("backups/b1/new.gz", str(tmp_path / "missing"))
    assert not store.exists("backups/b1/new.gz")
    assert list(store.list_keys()) == ["backups/b1/b1.tar.gz"]
    assert temp_leftovers(store.root) == []


@pytest.fixture
def tiny_tmpfs(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True)


def test_local_full_disk_leaves_nothing_behind(tmp_path, tiny_tmpfs):
    store = LocalStore(str(tiny_tmpfs / "store"))
    store.check(create=True)
    store.put_bytes("backups/b0/velero-backup.json", b"small")
    big = write(tmp_path / "big", os.urandom(512 * 1024))

    with pytest.raises(StorageError) as info:
        store.put_file("backups/b1/b1.tar.gz", big)
    message = str(info.value)
    assert "no space left on device" in message
    assert "backups/b1/b1.tar.gz" in message and str(tiny_tmpfs) in message
    assert not store.exists("backups/b1/b1.tar.gz")
    assert temp_leftovers(tiny_tmpfs) == []
    assert read(store, "backups/b0/velero-backup.json") == b"small"

    # upload_backup on the full disk: rolled back, the other backup intact
    files = backup_files(tmp_path, "b2")
    files["tarball"] = big
    with pytest.raises(StorageError, match="no space left on device"):
        upload_backup(store, "b2", files)
    assert store.list_backups() == ["b0"]
    assert list(store.list_keys("backups/b2/")) == []


def test_local_delete_backup_isolation(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    for name in ("b1", "b10", "b1-x"):
        upload_backup(store, name, backup_files(tmp_path, name))
    store.put_bytes("backups/b1.tar.gz", b"not in the dir")  # a sibling that shares the name prefix
    before = {k for k in store.list_keys() if not k.startswith("backups/b1/")}

    store.delete_backup("b1")
    assert list(store.list_keys("backups/b1/")) == []
    assert {k for k in store.list_keys()} == before
    assert store.list_backups() == ["b1-x", "b10"]
    store.delete_backup("b1")  # missing is fine
    with pytest.raises(ValueError):
        store.delete_backup("..")
    with pytest.raises(ValueError):
        store.delete_backup("a/b")


def test_local_prefix_layout(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    upload_backup(store, "b1", backup_files(tmp_path, "b1"), prefix="cluster-a")
    assert store.exists("cluster-a/backups/b1/velero-backup.json")
    assert store.list_backups("cluster-a") == ["b1"] and store.list_backups() == []
    store.delete_backup("b1", prefix="cluster-a")
    assert list(store.list_keys()) == []


def test_local_read_only_refuses_writes(tmp_path):
    root = tmp_path / "root"
    LocalStore(str(root)).put_bytes("backups/b1/velero-backup.json", b"{}")
    store = LocalStore(str(root), read_only=True)
    store.check()
    for attempt in (
        lambda: store.put_bytes("k", b"x"),
        lambda: store.put_file("k", write(tmp_path / "f", b"x")),
        lambda: store.delete("backups/b1/velero-backup.json"),
        lambda: store.delete_backup("b1"),
        lambda: upload_backup(store, "b2", backup_files(tmp_path, "b2")),
    ):
        with pytest.raises(StorageError, match="read-only"):
            attempt()
    assert list(store.list_keys()) == ["backups/b1/velero-backup.json"]
    assert read(store, "backups/b1/velero-backup.json") == b"{}"
    with pytest.raises(StorageError, match="does not exist"):
        LocalStore(str(tmp_path / "missing"), read_only=True).check()
    assert not (tmp_path / "missing").exists()


def test_local_check(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        LocalStore(str(tmp_path / "new" / "dir")).check()  # a vanished mount is not an empty folder
    assert not (tmp_path / "new").exists()
    LocalStore(str(tmp_path / "new" / "dir")).check(create=True)
    assert (tmp_path / "new" / "dir").is_dir()
    assert os.listdir(tmp_path / "new" / "dir") == []  # the probe is removed
    write(tmp_path / "file", b"x")
    with pytest.raises(StorageError, match="not a directory"):
        LocalStore(str(tmp_path / "file")).check()
    with pytest.raises(StorageError):
        LocalStore(str(tmp_path / "file" / "below")).check()


# --- upload_backup ------------------------------------------------------------------------------------


def test_upload_order(tmp_path):
    store = RecordingStore(str(tmp_path / "root"))
    warnings = upload_backup(store, "b1", backup_files(tmp_path, "b1"))
    assert warnings == []
    puts = [key for op, key in store.calls if op == "put"]
    assert puts[:3] == [logs_key("b1"), metadata_key("b1"), tarball_key("b1")]
    assert set(puts[3:]) == {
        results_key("b1"),
        resource_list_key("b1"),
        backup_dir("b1") + "b1-volumesnapshots.json.gz",
    }
    assert len(puts) == 6 and all(store.exists(k) for k in puts)


def test_upload_log_failure_is_a_warning(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    files = backup_files(tmp_path, "b1")
    files["log"] = str(tmp_path / "no-such-log")
    warnings = upload_backup(store, "b1", files)
    assert len(warnings) == 1 and "log" in warnings[0] and logs_key("b1") in warnings[0]
    assert store.exists(metadata_key("b1")) and store.exists(tarball_key("b1"))
    assert not store.exists(logs_key("b1"))
    # optional kinds may be absent
    minimal = {k: v for k, v in backup_files(tmp_path, "b2").items() if k in ("metadata", "tarball")}
    assert upload_backup(store, "b2", minimal) == []
    assert sorted(store.list_keys("backups/b2/")) == [tarball_key("b2"), metadata_key("b2")]


def test_upload_existing_name_writes_nothing(tmp_path):
    store = RecordingStore(str(tmp_path / "root"))
    upload_backup(store, "b1", backup_files(tmp_path, "b1"))
    before = {k: read(store, k) for k in store.list_keys()}
    store.calls.clear()
    with pytest.raises(StorageError, match=f"backup b1 already exists in local storage {store.root}"):
        upload_backup(store, "b1", backup_files(tmp_path, "b1-again"))
    assert store.calls == []
    assert {k: read(store, k) for k in store.list_keys()} == before


def test_upload_metadata_failure(tmp_path):
    store = RecordingStore(str(tmp_path / "root"))
    files = backup_files(tmp_path, "b1")
    files["metadata"] = str(tmp_path / "missing-meta")
    with pytest.raises(StorageError, match="metadata"):
        upload_backup(store, "b1", files)
    assert list(store.list_keys()) == []
    assert ("put", tarball_key("b1")) not in store.calls


def test_upload_tarball_failure_rolls_back(tmp_path):
    store = RecordingStore(str(tmp_path / "root"))
    upload_backup(store, "b0", backup_files(tmp_path, "b0"))
    other = {k: read(store, k) for k in store.list_keys()}
    store.calls.clear()

    files = backup_files(tmp_path, "b1")
    files["tarball"] = str(tmp_path)  # a directory: the copy fails
    with pytest.raises(StorageError, match="tarball") as info:
        upload_backup(store, "b1", files)
    assert "removed the partial backup" in str(info.value)
    assert list(store.list_keys("backups/b1/")) == []
    assert store.list_backups() == ["b0"]
    assert {k: read(store, k) for k in store.list_keys()} == other
    deletes = [key for op, key in store.calls if op == "delete"]
    assert deletes[0] == metadata_key("b1")  # metadata first: a half-removed backup is never visible
    assert all(k.startswith("backups/b1/") for k in deletes)
    assert ("put", results_key("b1")) not in store.calls


def test_upload_rest_failure_rolls_back(tmp_path):
    store = RecordingStore(str(tmp_path / "root"))
    upload_backup(store, "b0", backup_files(tmp_path, "b0"))
    other = {k: read(store, k) for k in store.list_keys()}
    files = backup_files(tmp_path, "b1")
    files["resource-list"] = str(tmp_path / "missing")
    with pytest.raises(StorageError, match="resource-list"):
        upload_backup(store, "b1", files)
    assert list(store.list_keys("backups/b1/")) == []
    assert {k: read(store, k) for k in store.list_keys()} == other


def test_upload_rejects_bad_input(tmp_path):
    store = LocalStore(str(tmp_path / "root"))
    files = backup_files(tmp_path, "b1")
    with pytest.raises(ValueError):
        upload_backup(store, "b1", {**files, "bogus": files["log"]})
    with pytest.raises(ValueError):
        upload_backup(store, "b1", {k: v for k, v in files.items() if k != "tarball"})
    with pytest.raises(ValueError):
        upload_backup(store, "../b1", files)
    assert list(store.list_keys()) == []


# --- S3 against a local S3 server -----------------------------------------------------------------------

BUCKET = "veloweb-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    import boto3

    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AK", aws_secret_access_key=SECRET
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


def s3_store(url, prefix=None, **kwargs) -> S3Store:
    return S3Store(
        kwargs.pop("bucket", BUCKET),
        prefix=uuid.uuid4().hex[:8] if prefix is None else prefix,
        endpoint_url=url,
        access_key_id="AK",
        secret_access_key=SECRET,
        **kwargs,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_s3_put_get_list_delete(s3_endpoint, tmp_path):
    store = s3_store(s3_endpoint)
    store.check()
    assert isinstance(store, ObjectStore)
    store.put_bytes("backups/b1/velero-backup.json", b"{}")
    store.put_file("backups/b1/b1.tar.gz", write(tmp_path / "t", b"t" * 1000))
    store.put_stream("backups/b2/velero-backup.json", io.BytesIO(b"{2}"))
    assert read(store, "backups/b1/velero-backup.json") == b"{}"
    assert store.size("backups/b1/b1.tar.gz") == 1000
    assert store.exists("backups/b1/b1.tar.gz") and not store.exists("backups/b1/nope")
    assert list(store.list_keys("backups/b1/")) == ["backups/b1/b1.tar.gz", "backups/b1/velero-backup.json"]
    assert len(list(store.list_keys())) == 3
    assert store.list_backups() == ["b1", "b2"]
    store.delete("backups/b2/velero-backup.json")
    store.delete("backups/b2/velero-backup.json")
    assert store.list_backups() == ["b1"]
    with pytest.raises(ObjectNotFoundError):
        store.open("backups/b2/velero-backup.json")
    # the store's prefix isolates it from other stores in the same bucket
    assert list(s3_store(s3_endpoint).list_keys()) == []
    with pytest.raises(ValueError):
        store.put_bytes("../escape", b"x")


def test_s3_multipart_upload(s3_endpoint, tmp_path):
    import boto3

    store = s3_store(s3_endpoint)
    data = os.urandom(9 * 1024 * 1024 + 123)
    store.put_file("backups/big/big.tar.gz", write(tmp_path / "big", data))
    assert store.size("backups/big/big.tar.gz") == len(data)
    assert read(store, "backups/big/big.tar.gz") == data
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="AK",
        aws_secret_access_key="x",
    )
    etag = client.head_object(Bucket=BUCKET, Key=f"{store.prefix}/backups/big/big.tar.gz")["ETag"]
    assert etag.strip('"').endswith("-2")  # two parts: it went up as a multipart upload


def test_s3_delete_backup_isolation_in_batches(s3_endpoint, tmp_path):
    store = s3_store(s3_endpoint)
    store.delete_batch = 2  # exercise several delete_objects batches
    for name in ("b1", "b10"):
        upload_backup(store, name, backup_files(tmp_path, name))
    store.put_bytes("backups/b1.tar.gz", b"sibling")
    before = {k for k in store.list_keys() if not k.startswith("backups/b1/")}
    assert len(list(store.list_keys("backups/b1/"))) == 6

    store.delete_backup("b1")
    assert list(store.list_keys("backups/b1/")) == []
    assert set(store.list_keys()) == before
    assert store.list_backups() == ["b10"]
    store.delete_backup("b1")


def test_s3_upload_rollback_and_existing(s3_endpoint, tmp_path):
    store = s3_store(s3_endpoint, prefix="")
    bsl = uuid.uuid4().hex[:8]  # the BSL prefix passed to upload_backup
    upload_backup(store, "b0", backup_files(tmp_path, "b0"), prefix=bsl)
    other = {k: read(store, k) for k in store.list_keys(bsl + "/")}

    files = backup_files(tmp_path, "b1")
    files["tarball"] = str(tmp_path / "missing.tar.gz")
    with pytest.raises(StorageError, match="tarball"):
        upload_backup(store, "b1", files, prefix=bsl)
    assert list(store.list_keys(f"{bsl}/backups/b1/")) == []
    assert {k: read(store, k) for k in store.list_keys(bsl + "/")} == other

    with pytest.raises(StorageError, match=f"backup b0 already exists in s3 bucket '{BUCKET}'"):
        upload_backup(store, "b0", backup_files(tmp_path, "b0"), prefix=bsl)
    assert {k: read(store, k) for k in store.list_keys(bsl + "/")} == other
    assert store.list_backups(bsl) == ["b0"]


def test_s3_read_only(s3_endpoint, tmp_path):
    prefix = uuid.uuid4().hex[:8]
    s3_store(s3_endpoint, prefix=prefix).put_bytes("backups/b1/velero-backup.json", b"{}")
    store = s3_store(s3_endpoint, prefix=prefix, read_only=True)
    store.check()
    for attempt in (
        lambda: store.put_bytes("k", b"x"),
        lambda: store.put_file("k", write(tmp_path / "f", b"x")),
        lambda: store.delete("backups/b1/velero-backup.json"),
        lambda: store.delete_backup("b1"),
    ):
        with pytest.raises(StorageError, match="read-only"):
            attempt()
    assert list(store.list_keys()) == ["backups/b1/velero-backup.json"]


def test_s3_missing_bucket(s3_endpoint):
    store = s3_store(s3_endpoint, bucket="no-such-bucket-here")
    with pytest.raises(StorageError, match="bucket 'no-such-bucket-here' does not exist") as info:
        store.check()
    assert s3_endpoint in str(info.value)
    with pytest.raises(StorageError, match="does not exist") as info:
        store.put_bytes("backups/b1/velero-backup.json", b"{}")
    assert "backups/b1/velero-backup.json" in str(info.value)
    assert SECRET not in str(info.value)


def test_s3_unreachable_endpoint(tmp_path):
    pytest.importorskip("boto3")
    url = f"http://127.0.0.1:{closed_port()}"
    store = S3Store(
        BUCKET,
        endpoint_url=url,
        access_key_id="AK",
        secret_access_key=SECRET,
        max_attempts=1,
        connect_timeout=2,
    )
    with pytest.raises(StorageError, match="cannot reach the endpoint") as info:
        store.check()
    assert url in str(info.value) and SECRET not in str(info.value)
    with pytest.raises(StorageError, match="cannot reach") as info:
        store.put_file("backups/b1/b1.tar.gz", write(tmp_path / "f", b"x"))
    assert "backups/b1/b1.tar.gz" in str(info.value)
    assert SECRET not in repr(store)
