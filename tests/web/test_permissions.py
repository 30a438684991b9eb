"""Roles: viewer reads, operator also defines/previews/triggers/deletes, admin also manages settings."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from backups.models import Backup, StorageLocation


def test_the_migration_creates_the_role_groups(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "admin"}


@pytest.mark.parametrize("url", ["/", "/backups/new/", "/settings/", "/backups/1/"])
def test_every_page_needs_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "role, history, define, settings",
    [(None, 403, 403, 403), ("viewer", 200, 403, 403), ("operator", 200, 200, 403), ("admin", 200, 200, 200)],
)
def test_pages_per_role(client_as, cluster, role, history, define, settings):
    client = client_as(role)
    assert client.get("/").status_code == history
    assert client.get("/backups/new/").status_code == define
    assert client.get("/settings/").status_code == settings


def test_a_viewer_cannot_delete(client_as, make_backup):
    backup = make_backup("done-1", phase=Backup.Phase.COMPLETED)
    client = client_as("viewer")
    assert client.get(f"/backups/{backup.pk}/").status_code == 200
    assert client.post(f"/backups/{backup.pk}/delete/").status_code == 403
    assert Backup.objects.filter(pk=backup.pk).exists()


def test_an_operator_deletes_after_confirmation(client_as, make_backup):
    backup = make_backup("failed-1", phase=Backup.Phase.FAILED_VALIDATION)
    client = client_as("operator")
    page = client.get(f"/backups/{backup.pk}/delete/")
    assert b"cannot be undone" in page.content
    assert Backup.objects.filter(pk=backup.pk).exists()
    response = client.post(f"/backups/{backup.pk}/delete/")
    assert response.status_code == 302
    assert not Backup.objects.filter(pk=backup.pk).exists()


def test_actions_need_the_csrf_token(make_user, make_backup):
    backup = make_backup("csrf-1", phase=Backup.Phase.COMPLETED)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    assert client.post(f"/backups/{backup.pk}/delete/").status_code == 403
    assert client.post("/backups/new/", {}).status_code == 403
    assert Backup.objects.filter(pk=backup.pk).exists()
    page = client.get("/").content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


def test_credentials_are_never_rendered(client_as, db):
    """The secret never leaves the server; the key id only as its last four characters."""
    location = StorageLocation.objects.create(
        name="s3",
        provider="s3",
        bucket="b",
        access_key_id="AKIAEXAMPLE1234",
        secret_access_key="very-secret-value",
    )
    client = client_as("admin")
    for url in ["/settings/", f"/settings/locations/{location.pk}/", f"/locations/{location.pk}/"]:
        html = client.get(url).content.decode()
        assert "very-secret-value" not in html
        assert "AKIAEXAMPLE1234" not in html


def test_an_admin_sets_a_role(client_as, make_user):
    client = client_as("admin")
    someone = make_user(None, username="someone")
    asked = client.post(f"/settings/users/{someone.pk}/role/", {"role": "operator"})
    assert asked.status_code == 200 and "Change the role of someone?" in asked.content.decode()
    assert not someone.groups.exists()  # confirmed first
    client.post(f"/settings/users/{someone.pk}/role/", {"role": "operator", "confirm": "on"})
    assert list(someone.groups.values_list("name", flat=True)) == ["operator"]
