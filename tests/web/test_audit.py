"""The audit trail: every change recorded with who, when, from where and what, by the services
(web, CLI, schedules, expiry alike) and the sign-in signals; admins browse, filter and export it;
nobody changes or deletes an entry."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from backups.engine.storage import LocalStore
from backups.models import AuditEntry, Backup, BackupDefinition, StorageLocation
from backups.services import audit, expiry, schedules, users
from tests.web.test_locations import write_backup

ADDRESS = "203.0.113.7"


@pytest.fixture
def admin(make_user):
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(make_user("admin", "ada"))
    return client


@pytest.fixture
def operator(make_user):
    client = Client(REMOTE_ADDR="198.51.100.9")
    client.force_login(make_user("operator", "otto"))
    return client


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def only(action) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, (action, found)
    return found[0]


def test_sign_in_failed_sign_in_and_sign_out_are_recorded_with_the_address(make_user):
    make_user("viewer", "vera")
    client = Client(REMOTE_ADDR=ADDRESS)
    client.post("/accounts/login/", {"username": "vera", "password": "wrong-password"})
    failed = only(audit.LOGIN_FAILED)
    assert (failed.username, failed.address, failed.object_name) == ("vera", ADDRESS, "vera")
    assert failed.details == {"locked_out": False}
    assert "wrong-password" not in json.dumps(failed.details)

    response = client.post("/accounts/login/", {"username": "vera", "password": "pw-Secret-123"})
    assert response.status_code == 302
    login = only(audit.LOGIN)
    assert (login.username, login.user.username, login.address, login.via) == ("vera", "vera", ADDRESS, "web")

    client.post("/accounts/logout/")
    logout = only(audit.LOGOUT)
    assert (logout.username, logout.address) == ("vera", ADDRESS)


def test_a_locked_out_sign_in_is_recorded_as_such(make_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    make_user("viewer", "vic")
    client = Client(REMOTE_ADDR=ADDRESS)
    for _ in range(3):
        client.post("/accounts/login/", {"username": "vic", "password": "nope"})
    failed = entries(audit.LOGIN_FAILED)
    assert len(failed) == 3
    assert failed[-1].details == {"locked_out": True} and failed[0].details == {"locked_out": False}


def test_backup_created_cancelled_and_deleted_from_the_dashboard(operator, cluster):
    response = operator.post(
        "/backups/new/", {"name_prefix": "web", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk}
    )
    assert response.status_code == 302
    backup = Backup.objects.get()
    created = only(audit.BACKUP_CREATED)
    assert (created.username, created.address, created.object_type) == ("otto", "198.51.100.9", "backup")
    assert (created.object_id, created.object_name) == (str(backup.pk), backup.name)
    assert created.details["cluster"] == "sample" and created.details["phase"] in ("Queued", "ReadyToStart")
    assert created.time <= timezone.now()

    operator.post(f"/backups/{backup.pk}/cancel/")
    cancelled = only(audit.BACKUP_CANCELLED)
    assert cancelled.object_name == backup.name and "cancelled" in cancelled.details["message"]
    operator.post(f"/backups/{backup.pk}/cancel/")  # a no-op now: not recorded again
    assert len(entries(audit.BACKUP_CANCELLED)) == 1

    operator.post(f"/backups/{backup.pk}/delete/")
    deleted = only(audit.BACKUP_DELETED)
    assert (deleted.object_id, deleted.object_name, deleted.username) == (str(backup.pk), backup.name, "otto")
    assert not Backup.objects.exists()


def test_definition_changes_pause_resume_and_delete(operator, cluster):
    form = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk, "save": "1"}
    operator.post("/backups/new/", {**form, "included_namespaces": "shop", "schedule": "0 1 * * *"})
    definition = BackupDefinition.objects.get()
    created = only(audit.DEFINITION_CREATED)
    assert created.details["included_namespaces"] == ["shop"] and created.details["schedule"] == "0 1 * * *"

    url = f"/definitions/{definition.pk}/edit/"
    operator.post(url, {**form, "included_namespaces": "shop, pay", "schedule": "0 1 * * *"})
    updated = only(audit.DEFINITION_UPDATED)
    assert updated.details == {"changed": {"included_namespaces": [["shop"], ["shop", "pay"]]}}
    operator.post(url, {**form, "included_namespaces": "shop, pay", "schedule": "0 1 * * *"})
    assert len(entries(audit.DEFINITION_UPDATED)) == 1  # nothing changed, nothing recorded

    operator.post(f"/definitions/{definition.pk}/pause/")
    operator.post(f"/definitions/{definition.pk}/pause/")
    operator.post(f"/definitions/{definition.pk}/resume/")
    assert len(entries(audit.SCHEDULE_PAUSED)) == 1 and len(entries(audit.SCHEDULE_RESUMED)) == 1

    operator.post(f"/definitions/{definition.pk}/delete/")
    deleted = only(audit.DEFINITION_DELETED)
    assert (deleted.object_id, deleted.object_name) == (str(definition.pk), "nightly")


def test_locations_never_leak_their_credentials_into_the_trail(admin, tmp_path):
    admin.post("/settings/locations/new/", {"name": "here", "provider": "local", "path": str(tmp_path / "a")})
    location = StorageLocation.objects.get()
    assert only(audit.LOCATION_CREATED).details["path"] == str(tmp_path / "a")
    data = {
        "name": "here",
        "provider": "local",
        "path": str(tmp_path / "b"),
        "access_key_id": "AKIDSECRETVALUE1",
    }
    data["secret_access_key"] = "very-secret-key-value"
    admin.post(f"/settings/locations/{location.pk}/", data)
    updated = only(audit.LOCATION_UPDATED)
    assert updated.details["changed"]["path"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    assert updated.details["changed"]["credentials"] == ["(sealed)", "(changed)"]
    dumped = json.dumps([e.details for e in AuditEntry.objects.all()])
    assert "SECRETVALUE" not in dumped and "very-secret" not in dumped


def test_cluster_user_role_and_import(admin, emulator, make_user, tmp_path):
    admin.post(
        "/settings/clusters/new/", {"name": "emu", "kubeconfig_path": emulator.kubeconfig, "context": ""}
    )
    assert only(audit.CLUSTER_CREATED).details["kubeconfig_path"] == emulator.kubeconfig

    viewer = make_user("viewer", "vince")
    admin.post(f"/settings/users/{viewer.pk}/role/", {"role": "operator", "confirm": "on"})
    role = only(audit.USER_ROLE)
    assert (role.object_name, role.username, role.address) == ("vince", "ada", ADDRESS)
    assert role.details == {"role": ["viewer", "operator"], "downloads": [False, True]}

    write_backup(LocalStore(str(tmp_path)), "old-1")
    location = StorageLocation.objects.create(name="old", path=str(tmp_path))
    admin.post(f"/locations/{location.pk}/import/", {"name": "old-1"})
    imported = only(audit.BACKUP_IMPORTED)
    assert imported.object_name == "old-1" and imported.details["location"] == "old"


def test_commands_schedules_and_expiry_record_who_did_it(cluster, make_backup, tmp_path):
    backup = make_backup("cli-1", phase=Backup.Phase.COMPLETED)
    call_command("backup", "delete", "cli-1", stdout=io.StringIO())
    deleted = only(audit.BACKUP_DELETED)
    assert deleted.via == "cli" and deleted.username.endswith("(CLI)") and deleted.address is None
    assert deleted.object_id == str(backup.pk)

    now = timezone.now()
    definition = BackupDefinition.objects.create(name="hourly", cluster=cluster, schedule="@every 1h")
    BackupDefinition.objects.filter(pk=definition.pk).update(created=now - timedelta(hours=2))
    schedules.fire_due(now)
    fired = only(audit.BACKUP_CREATED)
    assert (fired.username, fired.via, fired.details["schedule"]) == ("system", "system", "hourly")

    location = StorageLocation.objects.create(name="gc", path=str(tmp_path))
    make_backup(
        "old-1", phase=Backup.Phase.COMPLETED, storage_location=location, expiration=now - timedelta(days=1)
    )
    expiry.collect_expired(now)
    assert [(e.object_name, e.username) for e in entries(audit.BACKUP_DELETED)][-1] == ("old-1", "system")


def test_entries_cannot_be_changed_or_deleted(admin, make_user):
    entry = audit.record(audit.LOGIN, make_user("viewer", "x"))
    entry.action = "user.something_else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == audit.LOGIN

    superuser = User.objects.create_superuser("root", password="pw-Secret-123")
    site = Client()
    site.force_login(superuser)
    assert site.get("/admin/backups/auditentry/").status_code == 200
    assert site.get(f"/admin/backups/auditentry/{entry.pk}/change/").status_code == 200  # a read-only view
    site.post(f"/admin/backups/auditentry/{entry.pk}/change/", {"action": "forged"})
    assert site.post(f"/admin/backups/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert site.get("/admin/backups/auditentry/add/").status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == audit.LOGIN


def _many(count):
    for number in range(count):
        audit.record(
            audit.BACKUP_CREATED,
            object_name=f"b-{number}",
            kind="backup",
            object_id=str(number),
            actor=audit.Actor(username="alice" if number % 2 else "bob", address="10.0.0.1", via="web"),
        )


def test_the_page_filters_and_paginates_for_admins_only(admin, operator):
    _many(120)
    audit.record(audit.LOCATION_DEFAULT, object_name="s3-main", kind="location", object_id="4")
    assert operator.get("/settings/audit/").status_code == 403
    page = admin.get("/settings/audit/").content.decode()
    assert "Page 1 of 3" in page and "s3-main" in page
    alice = admin.get("/settings/audit/", {"user": "alice", "action": audit.BACKUP_CREATED})
    assert alice.context["page"].paginator.count == 60
    assert admin.get("/settings/audit/", {"object": "b-17"}).context["page"].paginator.count == 1
    assert admin.get("/settings/audit/", {"object_type": "location"}).context["page"].paginator.count == 1
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert admin.get("/settings/audit/", {"since": tomorrow}).context["page"].paginator.count == 0
    bad = admin.get("/settings/audit/", {"since": tomorrow, "until": "2020-01-01"})
    assert "The end date is before the start date." in bad.content.decode()
    assert bad.context["page"].paginator.count == 0
    not_a_date = admin.get("/settings/audit/", {"since": "not-a-date"}).content.decode()
    assert "since: Enter a valid date." in not_a_date


def test_exports_stream_csv_and_json_with_the_filters(admin, operator):
    _many(30)
    audit.record(
        audit.LOCATION_DEFAULT, object_name="=HYPERLINK(1)", kind="location", details={"x": [1, "é"]}
    )
    assert operator.get("/settings/audit/export.csv").status_code == 403
    response = admin.get("/settings/audit/export.csv", {"user": "bob"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 15 and {r["username"] for r in rows} == {"bob"}
    assert [r["object_name"] for r in rows] == [f"b-{n}" for n in range(0, 30, 2)]  # oldest first

    response = admin.get("/settings/audit/export.json")
    data = [
        e for e in json.loads(b"".join(response.streaming_content)) if not e["action"].startswith("user.")
    ]
    assert len(data) == 31 and data[-1]["details"] == {"x": [1, "é"]}
    assert data[0]["address"] == "10.0.0.1" and data[0]["action"] == audit.BACKUP_CREATED
    csv_all = b"".join(admin.get("/settings/audit/export.csv").streaming_content).decode()
    assert "'=HYPERLINK(1)" in csv_all  # never a formula in a spreadsheet

    bad = admin.get("/settings/audit/export.csv", {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.content.decode()
    assert admin.get("/settings/audit/export.xml").status_code == 404


def test_users_created_deleted_and_their_groups_changed_in_the_admin(make_user):
    superuser = User.objects.create_superuser("root", password="pw-Secret-123")
    site = Client(REMOTE_ADDR=ADDRESS)
    site.force_login(superuser)
    response = site.post(
        "/admin/auth/user/add/",
        {
            "username": "newbie",
            "password1": "pw-Secret-123x",
            "password2": "pw-Secret-123x",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    created = [e for e in entries(audit.USER_CREATED) if e.object_name == "newbie"]
    assert len(created) == 1 and (created[0].username, created[0].address) == ("root", ADDRESS)

    operator = Group.objects.get(name="operator")
    newbie.groups.add(operator)  # as the admin's user page does
    changed = only(audit.USER_GROUPS)
    assert changed.object_name == "newbie" and changed.details == {"added": ["operator"]}
    users.change_role(newbie, "viewer")  # recorded once, as a role change, not group by group
    assert len(entries(audit.USER_GROUPS)) == 1
    assert only(audit.USER_ROLE).details["role"] == ["operator", "viewer"]
    newbie.delete()
    assert only(audit.USER_DELETED).object_name == "newbie"


def test_the_api_records_the_tokens_user(client, make_user, make_backup, cluster):
    from backups.services import api_tokens

    user = make_user("operator", "scripted")
    row, token = api_tokens.create_token(user, "ci job")
    created = only(audit.TOKEN_CREATED)
    assert created.object_type == "token" and created.details == {"user": "scripted", "prefix": row.prefix}
    assert token not in json.dumps(created.details)
    queued = make_backup("api-queued", phase=Backup.Phase.QUEUED, queue_position=1)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": ADDRESS}
    assert client.post(f"/api/v1/backups/{queued.pk}/cancel/", **headers).status_code == 200
    cancelled = only(audit.BACKUP_CANCELLED)
    assert (cancelled.username, cancelled.via, cancelled.address) == ("scripted", "api", ADDRESS)
    api_tokens.revoke(row)
    api_tokens.revoke(row)
    assert only(audit.TOKEN_REVOKED).details["prefix"] == row.prefix


def test_settings_user_management_is_recorded_without_passwords(admin, make_user):
    response = admin.post("/settings/users/new/", {"username": "newbie", "role": "operator"})
    shown = response.content.decode()
    created = [e for e in entries(audit.USER_CREATED) if e.object_name == "newbie"]
    assert len(created) == 1 and created[0].details == {"role": "operator", "one_time_password": True}
    groups = [e for e in entries(audit.USER_GROUPS) if e.object_name == "newbie"]
    assert created[0].username == "ada" and not groups  # one entry, not one per group
    newbie = User.objects.get(username="newbie")
    admin.post(f"/settings/users/{newbie.pk}/active/", {"active": "0"})
    admin.post(f"/settings/users/{newbie.pk}/active/", {"active": "1"})
    assert [e.object_name for e in entries(audit.USER_DISABLED) + entries(audit.USER_ENABLED)] == [
        "newbie"
    ] * 2
    admin.post(f"/settings/users/{newbie.pk}/password/", {"password": "Chosen-Pass-55"})
    assert only(audit.USER_PASSWORD).details == {"one_time": False}
    dumped = json.dumps([e.details for e in AuditEntry.objects.all()])
    assert "Chosen-Pass-55" not in dumped and "one-time-password" in shown


def test_a_definition_deleted_through_the_api_is_recorded(client, make_user, cluster):
    from backups.services import api_tokens

    _, token = api_tokens.create_token(make_user("operator", "bot"), "cleanup")
    definition = BackupDefinition.objects.create(name="old-def", cluster=cluster)
    response = client.delete(f"/api/v1/definitions/{definition.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 204
    deleted = only(audit.DEFINITION_DELETED)
    assert (deleted.object_name, deleted.object_id, deleted.username, deleted.via) == (
        "old-def",
        str(definition.pk),
        "bot",
        "api",
    )


def test_restores_created_cancelled_and_deleted(operator, make_backup, tmp_path, settings):
    from backups.models import Restore

    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    location = StorageLocation.objects.create(name="local", path=str(tmp_path / "storage"), default=True)
    backup = make_backup("nightly-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    data = {"cluster": backup.cluster_id, "name": "r-web", "workers": "4", "restore": "1"}
    operator.post(f"/backups/{backup.pk}/restore/", data)
    restore = Restore.objects.get()
    created = only(audit.RESTORE_CREATED)
    assert (created.object_type, created.object_name, created.username) == ("restore", "r-web", "otto")
    assert created.details == {"backup": "nightly-1", "cluster": "sample", "phase": "New"}
    operator.post(f"/restores/{restore.pk}/cancel/")
    operator.post(f"/restores/{restore.pk}/cancel/")  # ended already: nothing to record
    assert only(audit.RESTORE_CANCELLED).address == "198.51.100.9"
    operator.post(f"/restores/{restore.pk}/delete/")
    deleted = only(audit.RESTORE_DELETED)
    assert (deleted.object_id, deleted.details) == (str(restore.pk), {"phase": "Cancelled"})
