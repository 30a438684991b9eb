"""Bulk delete from the history: operators only, a confirmation that lists what goes and what is
kept (only ended backups go), through the delete service (their files go too), and an imported
backup of a read-only location that leaves the history with its files left in place."""

import os

from backups.engine.storage import LocalStore
from backups.engine.velero_format.layout import backup_dir
from backups.models import Backup, StorageLocation


def stored(location, name):
    return LocalStore(location.path).exists(f"{backup_dir(name)}velero-backup.json")


def location_with(tmp_path, *names, read_only=False):
    store = LocalStore(str(tmp_path))
    for name in names:
        store.put_bytes(f"{backup_dir(name)}velero-backup.json", b"{}")
    return StorageLocation.objects.create(name="here", path=str(tmp_path), read_only=read_only)


def test_viewers_see_no_checkboxes_and_may_not_delete(client_as, make_backup):
    backup = make_backup("done", phase=Backup.Phase.COMPLETED)
    client = client_as("viewer")
    html = client.get("/").content.decode()
    assert 'name="ids"' not in html and "bulk-delete" not in html
    assert client.get("/backups/delete/", {"ids": backup.pk}).status_code == 403
    assert client.post("/backups/delete/", {"ids": backup.pk}).status_code == 403
    assert Backup.objects.filter(pk=backup.pk).exists()


def test_operators_confirm_a_list_of_what_goes_and_what_stays(client_as, make_backup, tmp_path):
    location = location_with(tmp_path, "old-1", "old-2")
    one = make_backup("old-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    two = make_backup("old-2", phase=Backup.Phase.FAILED, storage_location=location)
    running = make_backup("running", phase=Backup.Phase.IN_PROGRESS, storage_location=location)
    client = client_as("operator")
    assert f'value="{one.pk}" form="bulk-delete"' in client.get("/").content.decode()
    ids = [one.pk, two.pk, running.pk, "junk", 99999]
    page = client.get("/backups/delete/", {"ids": ids, "back": "phase=Completed&sort=-name"})
    html = page.content.decode()
    assert page.status_code == 200 and "Delete 2 backups?" in html
    going, staying = html.split('id="going"')[1].split("</ul>")[0], html.split('id="staying"')[1]
    assert "old-1" in going and "old-2" in going and "running" not in going
    assert "running</b>: it is InProgress: cancel it first" in staying
    assert Backup.objects.count() == 3 and stored(location, "old-1")  # asking deletes nothing

    response = client.post(
        "/backups/delete/", {"ids": [one.pk, two.pk, running.pk], "back": "phase=Completed&sort=-name"}
    )
    assert response.status_code == 302 and response["Location"] == "/?phase=Completed&sort=-name"
    assert list(Backup.objects.values_list("name", flat=True)) == ["running"]
    assert not stored(location, "old-1") and not stored(location, "old-2")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert "Deleted 2: old-1, old-2." in messages
    assert any(m.startswith("running was kept: it is InProgress") for m in messages)


def test_nothing_selected_goes_back_to_the_history(client_as):
    response = client_as("operator").get("/backups/delete/", {"back": "q=x"})
    assert response.status_code == 302 and response["Location"] == "/?q=x"


def test_a_backup_that_started_meanwhile_is_kept(client_as, make_backup):
    backup = make_backup("queued", phase=Backup.Phase.COMPLETED)
    client = client_as("operator")
    client.get("/backups/delete/", {"ids": backup.pk})
    Backup.objects.filter(pk=backup.pk).update(phase=Backup.Phase.IN_PROGRESS)  # a race, say
    client.post("/backups/delete/", {"ids": backup.pk})
    assert Backup.objects.filter(pk=backup.pk).exists()


def test_a_storage_error_keeps_that_backup_and_deletes_the_others(client_as, make_backup, tmp_path):
    location = location_with(tmp_path / "ok", "fine")
    broken = StorageLocation.objects.create(name="ro", path=str(tmp_path / "ro"), read_only=True)
    os.makedirs(tmp_path / "ro")
    fine = make_backup("fine", phase=Backup.Phase.COMPLETED, storage_location=location)
    ours = make_backup("ours-ro", phase=Backup.Phase.COMPLETED, storage_location=broken)  # not imported
    response = client_as("operator").post("/backups/delete/", {"ids": [fine.pk, ours.pk]})
    messages = [str(m) for m in response.wsgi_request._messages]
    assert list(Backup.objects.values_list("name", flat=True)) == ["ours-ro"]
    assert any(m.startswith("ours-ro was not deleted:") and "read-only" in m for m in messages)


def test_an_imported_backup_of_a_read_only_location_leaves_the_history_its_files_stay(client_as, tmp_path):
    location = location_with(tmp_path, "velero-a", read_only=True)
    before = sorted(os.walk(tmp_path))
    backup = Backup.objects.create(
        name="velero-a", imported=True, storage_location=location, phase=Backup.Phase.COMPLETED
    )
    client = client_as("operator")
    confirm = client.get(f"/backups/{backup.pk}/delete/").content.decode()
    assert "removed from the history only" in confirm and "its files stay" in confirm
    assert "It cannot be undone" not in confirm
    bulk = client.get("/backups/delete/", {"ids": backup.pk}).content.decode()
    assert "its files stay there" in bulk
    response = client.post(f"/backups/{backup.pk}/delete/")
    assert response.status_code == 302
    assert not Backup.objects.filter(pk=backup.pk).exists()
    assert sorted(os.walk(tmp_path)) == before and stored(location, "velero-a")
