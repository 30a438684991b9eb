"""Download and Browse when the storage cannot be read: the page names the location and the reason
(directory gone, endpoint unreachable, bucket missing) with a 503, or says that the location answers
but the file is missing (404), never a bare Not Found; the location's status records the check."""

import shutil
import socket
import uuid
from html import unescape

import pytest

from backups.engine.storage import LocalStore
from backups.engine.velero_format.layout import backup_file_key
from backups.models import Backup, StorageLocation
from tests.moto_s3 import start_s3_server, stop_s3_server


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        stop_s3_server(proc)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def finished(make_backup, location, name="done-1"):
    return make_backup(name, phase=Backup.Phase.COMPLETED, storage_location=location)


def test_a_vanished_local_folder_is_unreachable_not_missing(client_as, make_backup, tmp_path):
    folder = tmp_path / "mount"
    store = LocalStore(str(folder))
    store.put_bytes(backup_file_key("log", "done-1"), b"log")
    location = StorageLocation.objects.create(name="nas", path=str(folder))
    backup = finished(make_backup, location)
    shutil.rmtree(folder)
    client = client_as("operator")
    for url in (f"/backups/{backup.pk}/download/logs/", f"/backups/{backup.pk}/resources/"):
        response = client.get(url)
        html = unescape(response.content.decode())
        assert response.status_code == 503, url
        assert "Storage location nas is unreachable" in html and "directory does not exist" in html
        assert f'href="/locations/{location.pk}/"' in html and f'href="/backups/{backup.pk}/"' in html
    location.refresh_from_db()
    assert location.available is False and "does not exist" in location.last_check_error


def test_a_missing_file_in_a_reachable_location_says_so(client_as, make_backup, tmp_path):
    location = StorageLocation.objects.create(name="nas", path=str(tmp_path))
    backup = finished(make_backup, location)
    response = client_as("operator").get(f"/backups/{backup.pk}/download/tarball/")
    html = unescape(response.content.decode())
    assert response.status_code == 404
    assert "The tarball of done-1 is missing" in html and "Storage location <b>nas</b> answers" in html


def test_an_unreachable_endpoint_is_named(client_as, make_backup, s3):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    location = StorageLocation.objects.create(**s3.location_fields(name="far", endpoint_url=endpoint))
    backup = finished(make_backup, location)
    response = client_as("operator").get(f"/backups/{backup.pk}/download/logs/")
    html = unescape(response.content.decode())
    assert response.status_code == 503
    assert "Storage location far is unreachable" in html and f"cannot reach the endpoint {endpoint}" in html
    assert s3.secret_access_key not in html


def test_a_missing_bucket_is_named(client_as, make_backup, s3):
    bucket = f"gone-{uuid.uuid4().hex[:8]}"
    location = StorageLocation.objects.create(**s3.location_fields(name="nobucket", bucket=bucket))
    backup = finished(make_backup, location)
    response = client_as("viewer").get(f"/backups/{backup.pk}/resources/")
    html = unescape(response.content.decode())
    assert response.status_code == 503
    assert "Storage location nobucket is unreachable" in html and f"bucket '{bucket}' does not exist" in html
