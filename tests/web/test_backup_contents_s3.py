"""Inside a backup kept in S3 (moto's server, as the location tests use): an imported backup with
no index gets one from a job on first open (streamed from the bucket, then stored there), and one item is
read with one Range GET."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from backups.models import Backup, StorageLocation
from backups.services import backup_indexes
from tests.moto_s3 import start_s3_server, stop_s3_server
from tests.stored_backups import configmap, secret, write_backup
from veloweb.crypto import seal


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log", bucket="veloweb-contents")
    try:
        yield server
    finally:
        stop_s3_server(proc)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    os.makedirs(settings.DATA_DIR, exist_ok=True)


def test_an_imported_backup_in_s3_is_indexed_on_first_open_and_read_by_range(
    s3, make_backup, client_as, tmp_path
):
    fields = s3.location_fields(prefix=uuid.uuid4().hex[:8])
    fields["access_key_id"], fields["secret_access_key"] = (
        seal(fields["access_key_id"]),
        seal(fields["secret_access_key"]),
    )
    location = StorageLocation.objects.create(name="bucket", **fields)
    store = location.store()
    objects = [configmap("shop", f"cm-{n}", {"n": str(n)}) for n in range(12)] + [
        secret("shop", "db", {"pw": "eA=="})
    ]
    folder = write_backup(str(tmp_path / "local"), "s3-1", objects, index=False)
    for name in os.listdir(folder):
        store.put_file(f"backups/s3-1/{name}", os.path.join(folder, name))
    backup = make_backup("s3-1", phase=Backup.Phase.COMPLETED, storage_location=location, imported=True)
    client = client_as("viewer")
    assert client.get(f"/backups/{backup.pk}/items/").status_code == 202  # a job indexes it
    backup_indexes.build(backup.pk)  # what the worker runs
    html = client.get(f"/backups/{backup.pk}/items/").content.decode()
    assert "13 items" in html and "cm-11" in html
    assert store.exists("backups/s3-1/s3-1-veloweb-index.tsv.gz")  # stored beside it for next time

    def tarball_gets():
        return s3.log_path.read_text().count(f"GET /{s3.bucket}/{fields['prefix']}/backups/s3-1/s3-1.tar.gz")

    before = tarball_gets()
    response = client.get(
        f"/backups/{backup.pk}/item/", {"resource": "configmaps", "namespace": "shop", "name": "cm-7"}
    )
    assert response.status_code == 200 and "&quot;n&quot;: &quot;7&quot;" in response.content.decode()
    deadline = time.monotonic() + 5  # the server logs a request once it answered it
    while tarball_gets() < before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert tarball_gets() == before + 1  # one GET of the tarball (a Range GET: tests/engine)
    html = client.get(
        f"/backups/{backup.pk}/item/", {"resource": "secrets", "namespace": "shop", "name": "db"}
    )
    assert "(redacted)" in html.content.decode() and "eA==" not in html.content.decode()
