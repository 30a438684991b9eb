"""Storage locations in the dashboard: the form refuses what cannot work (naming the problem, saving
nothing), credentials stay out of pages and logs, "Check access" and "Set default", browsing and
importing, a read-only location that is never written, and admins only. S3 is moto's server with
IAM authentication on (tests/moto_s3.py), so wrong credentials are refused for real."""

import logging
import os
import uuid

import pytest

from backups.engine.storage import LocalStore, StorageError
from backups.engine.velero_format.backup_json import (
    BackupJsonOptions,
    BackupJsonSpec,
    BackupJsonStatus,
    dump_backup_json,
    velero_backup_json,
)
from backups.models import Backup, StorageLocation
from tests.moto_s3 import start_s3_server, stop_s3_server


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        stop_s3_server(proc)


@pytest.fixture
def admin(client_as):
    return client_as("admin")


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def form(**fields) -> dict:
    return {"name": "loc", "provider": "local", "path": "", **fields}


def s3_form(s3, **fields) -> dict:
    values = s3.location_fields(prefix=uuid.uuid4().hex[:8])
    return {"name": "s3loc", **values, **fields}


def write_backup(store, name, phase="Completed", spec=None, options=None, **status):
    """A backup as Velero leaves it in a bucket: velero-backup.json, tarball, logs."""
    times = {"start": 1_700_000_000, "completion": 1_700_000_060}
    cr = velero_backup_json(name, spec, options, BackupJsonStatus(phase=phase, **times, **status))
    store.put_bytes(f"backups/{name}/velero-backup.json", dump_backup_json(cr))
    store.put_bytes(f"backups/{name}/{name}.tar.gz", b"tarball of " + name.encode())
    store.put_bytes(f"backups/{name}/{name}-logs.gz", b"logs")


def field_errors(response, field) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


def all_text(response, logs) -> str:
    return response.content.decode() + "\n".join(r.getMessage() for r in logs.records)


# --- the form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({}, "path", "needs the path of its folder"),
        ({"path": "relative/dir"}, "path", "absolute path"),
        ({"provider": "s3"}, "bucket", "needs a bucket"),
        ({"provider": "s3", "bucket": "b", "access_key_id": "AKIAONLY"}, "secret_access_key", "or neither"),
        ({"provider": "s3", "bucket": "b", "prefix": "a/../b"}, "prefix", "Invalid prefix"),
    ],
)
def test_each_provider_needs_its_own_fields(admin, fields, field, message):
    response = admin.post("/settings/locations/new/", form(**fields))
    assert response.status_code == 200
    assert any(message in e for e in field_errors(response, field)), response.context["form"].errors
    assert not StorageLocation.objects.exists()


def test_a_local_folder_that_cannot_be_used_is_refused_with_the_reason(admin, tmp_path):
    (tmp_path / "file").write_text("x")
    cases = [
        (form(path=str(tmp_path / "file")), "not a directory"),
        (form(path=str(tmp_path / "file" / "below")), "cannot create the directory"),
        (form(path=str(tmp_path / "missing"), read_only="on"), "directory does not exist"),
    ]
    for data, message in cases:
        response = admin.post("/settings/locations/new/", data)
        errors = field_errors(response, "path")
        assert any(message in e and data["path"] in e for e in errors), errors
    assert not StorageLocation.objects.exists()
    assert not (tmp_path / "missing").exists()  # a read-only location is never created


def test_a_writable_local_folder_is_saved_checked_and_shown(admin, tmp_path):
    response = admin.post("/settings/locations/new/", form(path=str(tmp_path / "new")))
    location = StorageLocation.objects.get(name="loc")
    assert response.status_code == 302 and response["Location"] == f"/locations/{location.pk}/"
    assert location.available is True and location.last_checked and location.last_check_error == ""
    assert (tmp_path / "new").is_dir() and os.listdir(tmp_path / "new") == []  # the probe is gone
    page = admin.get(response["Location"]).content.decode()
    assert "available" in page and str(tmp_path / "new") in page


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"endpoint_url": "http://127.0.0.1:9"}, "endpoint_url", "cannot reach the endpoint http://127.0.0.1:9"),
        ({"bucket": "no-such-bucket"}, "bucket", "bucket 'no-such-bucket' does not exist"),
        ({"secret_access_key": "wrong-secret-0123"}, "secret_access_key", "secret access key does not match"),
        ({"access_key_id": "AKIAUNKNOWN000000000"}, "access_key_id", "access key id is not known"),
    ],
)  # fmt: skip
def test_an_s3_location_that_cannot_be_used_is_refused_without_showing_the_secret(
    admin, s3, logs, change, field, message
):
    data = s3_form(s3, **change)
    response = admin.post("/settings/locations/new/", data)
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert any(message in e for e in errors), response.context["form"].errors
    assert not StorageLocation.objects.exists()
    text = all_text(response, logs)
    assert data["secret_access_key"] not in text and s3.secret_access_key not in text


def test_a_working_s3_location_is_saved_and_its_credentials_stay_out_of_pages_and_logs(admin, s3, logs):
    response = admin.post("/settings/locations/new/", s3_form(s3))
    assert response.status_code == 302, response.context["form"].errors
    location = StorageLocation.objects.get(name="s3loc")
    assert location.available is True
    assert location.credentials() == (s3.access_key_id, s3.secret_access_key)
    pages = [
        admin.get("/settings/"),
        admin.get(f"/locations/{location.pk}/"),
        admin.get(f"/settings/locations/{location.pk}/"),
        admin.post(f"/locations/{location.pk}/check/", HTTP_HX_REQUEST="true"),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert s3.secret_access_key not in html
        assert s3.access_key_id not in html
    for page in pages[:2]:
        assert "••••" + s3.access_key_id[-4:] in page.content.decode()
    assert s3.secret_access_key not in "\n".join(r.getMessage() for r in logs.records)


def test_empty_credentials_keep_the_stored_ones_and_can_be_removed(admin, s3):
    data = s3_form(s3)
    admin.post("/settings/locations/new/", data)
    location = StorageLocation.objects.get(name="s3loc")
    kept = {**data, "access_key_id": "", "secret_access_key": "", "region": "eu-west-1"}
    assert admin.post(f"/settings/locations/{location.pk}/", kept).status_code == 302
    location.refresh_from_db()
    assert (location.region, location.credentials().secret_access_key) == ("eu-west-1", s3.secret_access_key)
    # without credentials this server refuses the check: nothing changes
    response = admin.post(f"/settings/locations/{location.pk}/", {**kept, "forget_credentials": "on"})
    assert response.status_code == 200
    location.refresh_from_db()
    assert location.credentials().access_key_id == s3.access_key_id


def test_editing_to_a_broken_setting_changes_nothing(admin, tmp_path):
    admin.post("/settings/locations/new/", form(path=str(tmp_path)))
    location = StorageLocation.objects.get()
    (tmp_path / "file").write_text("x")
    response = admin.post(f"/settings/locations/{location.pk}/", form(path=str(tmp_path / "file")))
    assert "not a directory" in " ".join(field_errors(response, "path"))
    location.refresh_from_db()
    assert (location.path, location.available, location.last_check_error) == (str(tmp_path), True, "")


# --- status, default -----------------------------------------------------------------------------------


def test_check_access_records_the_status_and_swaps_the_partial(admin, tmp_path, logs):
    (tmp_path / "dir").mkdir()
    location = StorageLocation.objects.create(name="here", path=str(tmp_path / "dir"))
    response = admin.post(f"/locations/{location.pk}/check/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="location-status"') and "available" in html
    location.refresh_from_db()
    assert location.available is True and location.last_checked
    first_check = location.last_checked

    (tmp_path / "dir").rmdir()
    (tmp_path / "dir").write_text("now a file")
    response = admin.post(f"/locations/{location.pk}/check/", HTTP_HX_REQUEST="true")
    location.refresh_from_db()
    assert location.available is False and location.last_checked > first_check
    assert "not a directory" in location.last_check_error
    assert location.last_check_error in response.content.decode()
    assert any("here is unavailable" in r.getMessage() for r in logs.records)
    # without htmx, back to the page
    assert admin.post(f"/locations/{location.pk}/check/").status_code == 302


def test_set_default_leaves_exactly_one_default(admin, tmp_path):
    first = StorageLocation.objects.create(name="first", path=str(tmp_path / "1"), default=True)
    second = StorageLocation.objects.create(name="second", path=str(tmp_path / "2"))
    assert admin.post(f"/locations/{second.pk}/default/").status_code == 302
    assert list(StorageLocation.objects.filter(default=True)) == [second]
    page = admin.get(f"/locations/{first.pk}/").content.decode()
    assert 'id="set-default"' in page
    # the form sets a default the same way, and refuses to leave none
    data = form(name="first", path=first.path, default="on")
    assert admin.post(f"/settings/locations/{first.pk}/", data).status_code == 302
    assert list(StorageLocation.objects.filter(default=True)) == [first]
    response = admin.post(f"/settings/locations/{first.pk}/", form(name="first", path=first.path))
    assert "set another one as default" in " ".join(field_errors(response, "default"))
    assert list(StorageLocation.objects.filter(default=True)) == [first]


# --- browse and import -----------------------------------------------------------------------------------


def tree(root) -> dict:
    """Every file under root with its size and modification time."""
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            stat = os.stat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_a_read_only_location_is_browsed_and_imported_from_but_never_written(admin, tmp_path, make_backup):
    writer = LocalStore(str(tmp_path))
    shop, day = BackupJsonSpec(included_namespaces=["shop"]), BackupJsonOptions(ttl="24h0m0s")
    write_backup(writer, "velero-a", spec=shop, options=day)
    write_backup(writer, "velero-b", phase="PartiallyFailed", errors=2)
    writer.put_bytes("backups/broken/velero-backup.json", b"{not json")
    make_backup("velero-b", phase=Backup.Phase.COMPLETED)  # same name, run here: a conflict
    location = StorageLocation.objects.create(name="velero", path=str(tmp_path), read_only=True)
    before = tree(tmp_path)

    page = admin.get(f"/locations/{location.pk}/").content.decode()
    assert 'id="found-velero-a" class="found-importable"' in page
    assert 'id="found-velero-b" class="found-conflict"' in page and "already in the history" in page
    assert 'id="found-broken" class="found-unreadable"' in page and "not valid JSON" in page

    admin.post(f"/locations/{location.pk}/check/")
    response = admin.post(f"/locations/{location.pk}/import/", {"all": "1"}, follow=True)
    html = response.content.decode()
    assert "Imported 1 backup(s)" in html and "broken" in html
    imported = Backup.objects.get(name="velero-a")
    assert (imported.imported, imported.cluster, imported.storage_location) == (True, None, location)
    assert imported.included_namespaces == ["shop"] and imported.ttl == "24h0m0s"
    page = admin.get(f"/locations/{location.pk}/").content.decode()
    assert f'href="/backups/{imported.pk}/"' in page

    again = admin.post(f"/locations/{location.pk}/import/", {"name": "velero-a"}, follow=True)
    assert "already in the history: nothing to import" in again.content.decode()
    assert Backup.objects.filter(name="velero-a").count() == 1
    location.refresh_from_db()
    assert location.available is True  # readable is all a read-only location needs
    with pytest.raises(StorageError, match="read-only"):
        location.store().put_bytes("backups/x/velero-backup.json", b"{}")
    with pytest.raises(StorageError, match="read-only"):
        location.store().delete_backup("velero-a")
    assert tree(tmp_path) == before  # not one byte written, moved or touched


def test_a_read_only_s3_location_is_never_written(admin, s3):
    data = s3_form(s3)
    writer = StorageLocation(**{k: v for k, v in data.items() if k != "name"}).store()
    write_backup(writer, "in-s3")
    response = admin.post("/settings/locations/new/", {**data, "read_only": "on"})
    assert response.status_code == 302
    location = StorageLocation.objects.get()
    keys = {o["Key"]: o["ETag"] for o in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]}
    admin.post(f"/locations/{location.pk}/check/")
    admin.post(f"/locations/{location.pk}/import/", {"name": "in-s3"})
    assert Backup.objects.get(name="in-s3").size_bytes == len(b"tarball of in-s3")
    assert {o["Key"]: o["ETag"] for o in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]} == keys


def test_a_location_that_cannot_be_listed_says_why(admin, tmp_path, s3):
    location = StorageLocation.objects.create(**s3.location_fields(name="gone", secret_access_key="bad-0000"))
    page = admin.get(f"/locations/{location.pk}/").content.decode()
    assert "Cannot list the backups" in page and "secret access key does not match" in page
    assert "bad-0000" not in page


def test_an_imported_backup_shows_in_the_history_and_downloads(admin, tmp_path, cluster):
    write_backup(LocalStore(str(tmp_path)), "old-1")
    location = StorageLocation.objects.create(name="old", path=str(tmp_path))
    admin.post(f"/locations/{location.pk}/import/", {"name": "old-1"})
    backup = Backup.objects.get(name="old-1")
    history = admin.get("/").content.decode()
    assert f'id="backup-{backup.pk}"' in history and ">imported<" in history
    detail = admin.get(f"/backups/{backup.pk}/").content.decode()
    assert "Cluster unknown" in detail and 'id="imported-badge"' in detail and "Completed" in detail
    download = admin.get(f"/backups/{backup.pk}/download/tarball/")
    assert b"".join(download.streaming_content) == b"tarball of old-1"
    assert admin.get(f"/backups/{backup.pk}/download/logs/").status_code == 200


# --- permissions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, "viewer", "operator"])
def test_only_admins_manage_locations(client_as, tmp_path, role):
    write_backup(LocalStore(str(tmp_path)), "b1")
    location = StorageLocation.objects.create(name="loc", path=str(tmp_path))
    other = StorageLocation.objects.create(name="other", path=str(tmp_path), default=True)
    client = client_as(role)
    assert client.get(f"/locations/{location.pk}/").status_code == 403
    assert client.get(f"/settings/locations/{location.pk}/").status_code == 403
    assert client.post("/settings/locations/new/", form(path=str(tmp_path / "n"))).status_code == 403
    assert client.post(f"/locations/{location.pk}/check/").status_code == 403
    assert client.post(f"/locations/{location.pk}/default/").status_code == 403
    assert client.post(f"/locations/{location.pk}/import/", {"all": "1"}).status_code == 403
    assert StorageLocation.objects.count() == 2 and not Backup.objects.exists()
    location.refresh_from_db(), other.refresh_from_db()
    assert (location.default, location.last_checked, other.default) == (False, None, True)


def test_signed_out_users_are_sent_to_sign_in(client, db):
    location = StorageLocation.objects.create(name="loc", path="/tmp")
    response = client.get(f"/locations/{location.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_actions_are_post_only(admin, tmp_path):
    location = StorageLocation.objects.create(name="loc", path=str(tmp_path))
    for action in ("check", "default", "import"):
        assert admin.get(f"/locations/{location.pk}/{action}/").status_code == 405


@pytest.mark.parametrize("provider", ["local", "s3"])
def test_folders_that_name_no_backup_are_shown_not_importable_and_the_rest_browses_and_imports(
    admin, tmp_path, request, provider
):
    """`.` and `..` keys under backups/ (and names no backup can have) made the whole location
    page say "Cannot list the backups"; now each is a row with the reason."""
    if provider == "s3":
        fields = request.getfixturevalue("s3").location_fields(prefix=uuid.uuid4().hex[:8])
        location = StorageLocation.objects.create(name="odd", **fields)
        odd = [".", "..", "Bad Name"]
    else:
        location = StorageLocation.objects.create(name="odd", path=str(tmp_path))
        odd = ["Bad Name", "tab\there"]
    store = location.store()
    write_backup(store, "good-1")
    for name in odd:
        if provider == "s3":  # the store refuses such keys: write them as another client could
            key = f"{store.prefix}/backups/{name}/velero-backup.json"
            store._client.put_object(Bucket=store.bucket, Key=key, Body=b"{}")
        else:
            (tmp_path / "backups" / name).mkdir()
            (tmp_path / "backups" / name / "velero-backup.json").write_text("{}")

    page = admin.get(f"/locations/{location.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "Cannot list the backups" not in html
    assert 'id="found-good-1" class="found-importable"' in html
    for name in odd:
        shown = ascii(name).replace("'", "&#x27;")
        assert f'id="found-{shown}" class="found-invalid-name"' in html
        assert f"{shown} is not a valid backup name" in html

    refused = admin.post(f"/locations/{location.pk}/import/", {"name": odd[0]}, follow=True)
    assert "is not a valid backup name" in refused.content.decode()
    done = admin.post(f"/locations/{location.pk}/import/", {"all": "1"}, follow=True).content.decode()
    assert "Imported 1 backup(s)" in done
    assert list(Backup.objects.values_list("name", flat=True)) == ["good-1"]
