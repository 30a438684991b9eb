"""Expiry (Velero's garbage collection): exactly the expired, finished backups are deleted with their
files, on a local folder and on an S3 bucket (moto's server); a backup whose storage location is
missing, read-only or unreachable is kept with the reason; a refused backup expires too."""

import socket
from datetime import UTC, datetime, timedelta

import pytest

from backups.models import Backup, StorageLocation
from backups.services import backups as backup_services
from backups.services.expiry import collect_expired

Phase = Backup.Phase
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
EXPIRED = NOW - timedelta(minutes=1)
LATER = NOW + timedelta(days=1)
SECRET = "sEcReT-expiry-never-shown-42"
BUCKET = "veloweb-expiry"
FILES = ("velero-backup.json", "{name}.tar.gz", "{name}-logs.gz")


@pytest.fixture(scope="module")
def s3_endpoint():
    server_mod = pytest.importorskip("moto.server")
    import boto3

    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AK", aws_secret_access_key=SECRET
    ).create_bucket(Bucket=BUCKET)
    try:
        yield url
    finally:
        server.stop()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local(db, tmp_path):
    return StorageLocation.objects.create(name="local", path=str(tmp_path / "store"))


@pytest.fixture(params=["local", "s3"])
def location(request, db, tmp_path):
    if request.param == "local":
        return StorageLocation.objects.create(name="local", path=str(tmp_path / "store"))
    return StorageLocation.objects.create(
        name="bucket",
        provider=StorageLocation.Provider.S3,
        bucket=BUCKET,
        prefix=f"t-{tmp_path.name}",
        endpoint_url=request.getfixturevalue("s3_endpoint"),
        access_key_id="AK",
        secret_access_key=SECRET,
    )


@pytest.fixture
def stored(make_backup):
    """A backup row plus its files in `location`, like a finished run left them."""

    def make(name, location, expiration=EXPIRED, phase=Phase.COMPLETED):
        store = location.store()
        for pattern in FILES:
            store.put_bytes(f"backups/{name}/{pattern.format(name=name)}", name.encode())
        return make_backup(name, storage_location=location, expiration=expiration, phase=phase)

    return make


def keys(location, name):
    return sorted(location.store().list_keys(f"backups/{name}/"))


def test_exactly_the_expired_finished_backups_are_deleted_with_their_files(location, stored):
    stored("nightly-20260101-1", location)  # expired
    stored("nightly-20260101-10", location, expiration=LATER)  # its name-prefix neighbour
    stored("failed-1", location, phase=Phase.FAILED)  # expired too
    for phase in (Phase.QUEUED, Phase.READY, Phase.IN_PROGRESS, Phase.FINALIZING):
        stored(f"running-{phase.lower()}", location, phase=phase)
    stored("forever", location, expiration=None)

    result = collect_expired(now=NOW)

    assert sorted(result["deleted"]) == ["failed-1", "nightly-20260101-1"] and result["kept"] == {}
    assert keys(location, "nightly-20260101-1") == [] and keys(location, "failed-1") == []
    assert keys(location, "nightly-20260101-10") == [
        "backups/nightly-20260101-10/nightly-20260101-10-logs.gz",
        "backups/nightly-20260101-10/nightly-20260101-10.tar.gz",
        "backups/nightly-20260101-10/velero-backup.json",
    ]
    left = set(Backup.objects.values_list("name", flat=True))
    assert left == {
        "nightly-20260101-10",
        "running-queued",
        "running-readytostart",
        "running-inprogress",
        "running-finalizing",
        "forever",
    }
    for name in left:
        assert len(keys(location, name)) == 3, name
    location.refresh_from_db()
    assert location.available is True and location.last_checked == NOW and location.last_check_error == ""


def test_a_backup_without_storage_location_is_kept_as_bsl_not_found(make_backup):
    make_backup("orphan", expiration=EXPIRED, phase=Phase.COMPLETED)
    assert collect_expired(now=NOW) == {"deleted": [], "kept": {"orphan": "BSLNotFound"}}
    backup = Backup.objects.get()
    assert backup.gc_failure == "BSLNotFound"


def test_a_backup_in_a_read_only_location_is_kept_with_its_files(local, stored):
    stored("old", local)
    StorageLocation.objects.filter(pk=local.pk).update(read_only=True)
    assert collect_expired(now=NOW)["kept"] == {"old": "BSLReadOnly"}
    assert Backup.objects.get().gc_failure == "BSLReadOnly"
    assert len(keys(local, "old")) == 3


def test_an_unreachable_bucket_keeps_the_backup_with_the_reason_never_the_secret(make_backup):
    location = StorageLocation.objects.create(
        name="gone",
        provider=StorageLocation.Provider.S3,
        bucket=BUCKET,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        access_key_id="AK",
        secret_access_key=SECRET,
    )
    make_backup("stuck", storage_location=location, expiration=EXPIRED, phase=Phase.COMPLETED)
    assert collect_expired(now=NOW)["kept"] == {"stuck": "BSLCannotGet"}
    backup = Backup.objects.get()
    assert backup.gc_failure == "BSLCannotGet"
    assert "cannot reach the endpoint" in backup.gc_failure_detail and SECRET not in backup.gc_failure_detail
    location.refresh_from_db()
    assert location.available is False and location.last_checked == NOW
    assert location.last_check_error == backup.gc_failure_detail


def test_a_vanished_folder_is_unreachable_not_empty(tmp_path, stored):
    """An unmounted volume leaves an empty mount point or nothing: never read as "no files"."""
    location = StorageLocation.objects.create(name="nfs", path=str(tmp_path / "mount"))
    stored("gone", location)
    (tmp_path / "mount").rename(tmp_path / "unmounted")
    assert collect_expired(now=NOW)["kept"] == {"gone": "BSLCannotGet"}
    assert "does not exist" in Backup.objects.get(name="gone").gc_failure_detail
    assert not (tmp_path / "mount").exists()
    assert len(list((tmp_path / "unmounted" / "backups" / "gone").iterdir())) == 3


def test_once_the_location_answers_again_the_next_run_deletes_it(tmp_path, stored, make_backup):
    blocker = tmp_path / "mount"
    location = StorageLocation.objects.create(name="nfs", path=str(blocker))
    stored("later", location)
    readonly = StorageLocation.objects.create(name="archive", path=str(tmp_path / "ro"))
    stored("archived", readonly)
    StorageLocation.objects.filter(pk=readonly.pk).update(read_only=True)
    (blocker / "backups").rename(tmp_path / "aside")
    blocker.rmdir()
    blocker.write_text("not a directory")  # the folder is unusable: a file stands in its place

    assert collect_expired(now=NOW)["kept"] == {"later": "BSLCannotGet", "archived": "BSLReadOnly"}
    assert "not a directory" in Backup.objects.get(name="later").gc_failure_detail
    assert Backup.objects.filter(name="later").exists()

    blocker.unlink()
    blocker.mkdir()
    (tmp_path / "aside").rename(blocker / "backups")
    assert collect_expired(now=NOW + timedelta(hours=1)) == {
        "deleted": ["later"],
        "kept": {"archived": "BSLReadOnly"},
    }
    assert not (blocker / "backups" / "later").exists()
    assert Backup.objects.get(name="archived").gc_failure == "BSLReadOnly"


def test_a_refused_backup_expires_after_its_ttl_or_720h_and_is_collected(cluster, settings, tmp_path):
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"
    created = datetime(2026, 2, 1, tzinfo=UTC)
    bad_selector = backup_services.create_backup(
        "bad-selector", cluster, now=created, ttl="1h", label_selector="("
    )
    bad_ttl = backup_services.create_backup("bad-ttl", cluster, now=created, ttl="30")
    assert bad_selector.phase == bad_ttl.phase == Phase.FAILED_VALIDATION
    assert bad_selector.expiration == created + timedelta(hours=1)
    assert bad_ttl.expiration == created + timedelta(hours=720)

    assert collect_expired(now=created + timedelta(hours=2))["deleted"] == ["bad-selector"]
    assert collect_expired(now=created + timedelta(hours=721))["deleted"] == ["bad-ttl"]
    assert not Backup.objects.exists()
