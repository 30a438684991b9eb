"""Notification targets in Settings: the form's checks, sealed write-only secrets, *Send test* to a
real receiver on loopback (webhook signed, Apprise's json://), the deliveries log, admins only;
and the events raised where they happen (queued on Redis after commit)."""

import json
from datetime import timedelta

import django_rq
import pytest
from django.db import connection
from django.utils import timezone

from backups import notices
from backups.models import AuditEntry, Backup, BackupDefinition, NotificationDelivery, NotificationTarget
from backups.services import audit, expiry, notifications, schedules
from tests.webhook_receiver import start_receiver

SECRET = "s3cret-signing-key-0123"


@pytest.fixture(scope="module")
def receiver():
    server, receiver = start_receiver()
    yield receiver
    server.shutdown()


@pytest.fixture
def admin(client_as):
    return client_as("admin")


def webhook_form(receiver, **fields):
    data = {"name": "ops-hook", "kind": "webhook", "url": f"{receiver.url}/hook", "secret": SECRET}
    data.update(events=["backup.failed", "backup.cancelled"], enabled="on")
    return {**data, **fields}


def test_a_webhook_target_is_saved_sealed_and_never_shown(admin, receiver):
    response = admin.post(
        "/settings/notifications/new/", webhook_form(receiver, url=f"{receiver.url}/hook?token=T0KEN")
    )
    assert response.status_code == 302
    target = NotificationTarget.objects.get()
    assert target.events == ["backup.failed", "backup.cancelled"] and target.definition is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM backups_notificationtarget")
        url, secret = cursor.fetchone()
    assert url.startswith("fernet1:") and secret.startswith("fernet1:")
    assert target.plain_url().endswith("?token=T0KEN") and target.plain_secret() == SECRET
    for page in (admin.get("/settings/"), admin.get(f"/settings/notifications/{target.pk}/")):
        html = page.content.decode()
        assert "T0KEN" not in html and SECRET not in html and receiver.url.split("//")[1] in html
    created = AuditEntry.objects.get(action=audit.NOTIFICATION_CREATED)
    assert "T0KEN" not in json.dumps(created.details) and SECRET not in json.dumps(created.details)

    # an edit that leaves the URL and the secret empty keeps them
    form = webhook_form(receiver, url="", secret="", events=["backup.failed"])
    assert admin.post(f"/settings/notifications/{target.pk}/", form).status_code == 302
    target.refresh_from_db()
    assert target.plain_url().endswith("?token=T0KEN") and target.plain_secret() == SECRET
    assert AuditEntry.objects.get(action=audit.NOTIFICATION_UPDATED).details == {
        "changed": {"events": [["backup.failed", "backup.cancelled"], ["backup.failed"]]}
    }


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"url": "ftp://example.org/x"}, "url", "http:// or https:// URL with a host"),
        ({"url": "https:///nohost"}, "url", "http:// or https:// URL with a host"),
        ({"secret": "short"}, "secret", "16 characters or more"),
        ({"url": ""}, "url", "Give the URL."),
        ({"kind": "apprise", "url": "nonsense://what"}, "url", "Apprise does not accept this URL"),
        ({"events": []}, "events", "This field is required."),
        ({"kind": "carrier-pigeon"}, "kind", "not one of the available choices"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(admin, receiver, fields, field, message):
    response = admin.post("/settings/notifications/new/", webhook_form(receiver, **fields))
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert (
        not NotificationTarget.objects.exists()
        and not AuditEntry.objects.filter(action__startswith="notif").exists()
    )


def test_send_test_signs_the_webhook_and_logs_the_delivery(admin, receiver):
    admin.post("/settings/notifications/new/", webhook_form(receiver, url=f"{receiver.url}/signed"))
    target = NotificationTarget.objects.get()
    page = admin.post(f"/settings/notifications/{target.pk}/test/", follow=True).content.decode()
    assert "Test notification sent to ops-hook." in page
    (request,) = receiver.wait_for("/signed")
    assert request.signature_ok(SECRET) and not request.signature_ok("another-secret-value")
    assert (
        request.headers["x-veloweb-event"] == "test" and request.headers["content-type"] == "application/json"
    )
    body = request.json()
    assert body["event"] == "test" and "ops-hook" in body["message"]
    delivery = NotificationDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.test, body["delivery"]) == (
        "sent",
        1,
        True,
        delivery.pk,
    )
    log = admin.get("/settings/notifications/deliveries/").content.decode()
    assert f'id="delivery-{delivery.pk}"' in log and "sent" in log
    assert AuditEntry.objects.get(action=audit.NOTIFICATION_TESTED).details == {"state": "sent"}


def test_a_failing_test_says_why(admin, receiver):
    receiver.scripts["/down"] = [503]
    admin.post("/settings/notifications/new/", webhook_form(receiver, url=f"{receiver.url}/down"))
    target = NotificationTarget.objects.get()
    page = admin.post(f"/settings/notifications/{target.pk}/test/", follow=True).content.decode()
    assert "failed: webhook http://127.0.0.1:" in page and "answered HTTP 503" in page
    assert NotificationDelivery.objects.get().state == "failed"
    settings_page = admin.get("/settings/").content.decode()
    assert "answered HTTP 503" in settings_page


def test_send_test_through_apprise_json(admin, receiver):
    port = receiver.url.rsplit(":", 1)[1]
    form = {
        "name": "chat",
        "kind": "apprise",
        "url": f"json://127.0.0.1:{port}/apprise",
        "events": ["backup.failed"],
    }
    assert admin.post("/settings/notifications/new/", {**form, "enabled": "on"}).status_code == 302
    target = NotificationTarget.objects.get()
    assert target.secret == ""
    admin.post(f"/settings/notifications/{target.pk}/test/")
    (request,) = receiver.wait_for("/apprise")
    body = request.json()
    assert body["title"] == "Veloweb test notification" and "chat" in body["message"]
    assert NotificationDelivery.objects.get().state == "sent"


def test_only_admins_manage_notifications(client_as, receiver):
    target = NotificationTarget.objects.create(
        name="t", url=f"{receiver.url}/x", secret=SECRET, events=["test"]
    )
    operator = client_as("operator")
    for url in (
        "/settings/notifications/new/",
        f"/settings/notifications/{target.pk}/",
        "/settings/notifications/deliveries/",
        f"/settings/notifications/{target.pk}/delete/",
    ):
        assert operator.get(url).status_code == 403
    assert operator.post(f"/settings/notifications/{target.pk}/test/").status_code == 403
    assert not receiver.at("/x") and NotificationTarget.objects.filter(pk=target.pk).exists()


def test_delete_keeps_the_deliveries(admin, receiver):
    target = NotificationTarget.objects.create(
        name="gone", url=f"{receiver.url}/g", secret=SECRET, events=["test"]
    )
    notifications.send_test(target)
    admin.post(f"/settings/notifications/{target.pk}/delete/")
    assert not NotificationTarget.objects.exists()
    delivery = NotificationDelivery.objects.get()
    assert (delivery.target, delivery.target_name) == (None, "gone")
    assert AuditEntry.objects.get(action=audit.NOTIFICATION_DELETED).object_name == "gone"


# --- events raised where they happen ------------------------------------------------------------------


@pytest.fixture
def queued(django_capture_on_commit_callbacks):
    """The payloads queued for fan-out on the real `notifications` queue while the block runs
    (callbacks run as on commit); the jobs are removed afterwards."""
    queue = django_rq.get_queue(notices.QUEUE)

    class Capture:
        def __enter__(self):
            self.before, self.found = set(queue.job_ids), []
            self.commit = django_capture_on_commit_callbacks(execute=True)
            self.commit.__enter__()
            return self.found

        def __exit__(self, *exc):
            self.commit.__exit__(*exc)
            for job in queue.get_jobs():
                if job.id not in self.before:
                    self.found.append(job.args[0])
                    job.delete()

    return Capture


def test_a_backup_failing_validation_raises_backup_failed_once(queued, cluster):
    from backups.services.backups import create_backup

    with queued() as payloads:
        backup = create_backup("bad-ttl", cluster, ttl="soon")
    assert backup.phase == Backup.Phase.FAILED_VALIDATION
    (payload,) = [p for p in payloads if p.get("backup", {}).get("name") == "bad-ttl"]
    assert payload["event"] == "backup.failed" and "ttl" in payload["backup"]["failure_reason"]
    with queued() as again:
        notices.backup_ended(backup.pk)  # raised already: not again
    assert not [p for p in again if p.get("backup", {}).get("name") == "bad-ttl"]


def test_a_location_that_becomes_unreachable_raises_it_once(db, queued, tmp_path):
    from backups.models import StorageLocation

    folder = tmp_path / "store"
    folder.mkdir()
    location = StorageLocation.objects.create(name="loc-gone", path=str(folder))
    with queued() as payloads:
        assert location.check_access() == ""
        folder.rename(tmp_path / "moved")  # checks never create a missing folder
        first, second = location.check_access(), location.check_access()
    assert first and second
    mine = [p for p in payloads if p.get("location", {}).get("id") == location.pk]
    assert [p["event"] for p in mine] == ["location.unavailable"] and mine[0]["message"] == first


def test_a_schedule_that_missed_its_run_and_an_expiry_that_failed(queued, cluster, make_backup):
    now = timezone.now()
    definition = BackupDefinition.objects.create(name="every-minute", cluster=cluster, schedule="@every 1m")
    BackupDefinition.objects.filter(pk=definition.pk).update(
        created=now - timedelta(minutes=10), updated=now - timedelta(minutes=10)
    )
    make_backup(
        "still-running", phase=Backup.Phase.IN_PROGRESS, definition=definition, schedule_name="every-minute"
    )
    gone = make_backup("expired-1", phase=Backup.Phase.COMPLETED, expiration=now - timedelta(hours=1))
    Backup.objects.filter(pk=gone.pk).update(storage_location=None)
    with queued() as payloads:
        assert schedules.fire_due(now) == []
        schedules.fire_due(now + timedelta(seconds=5))  # the same missed run: raised once
        expiry.collect_expired(now)
    missed = [
        p for p in payloads if p["event"] == "schedule.missed" and p["schedule"]["name"] == "every-minute"
    ]
    assert len(missed) == 1 and "still-running is still InProgress" in missed[0]["message"]
    failed = [
        p for p in payloads if p["event"] == "backup.expiry_failed" and p["backup"]["name"] == "expired-1"
    ]
    assert len(failed) == 1 and failed[0]["message"] == "BSLNotFound"


def test_targets_are_picked_by_event_and_definition(cluster):
    definition = BackupDefinition.objects.create(name="nightly", cluster=cluster)
    other = BackupDefinition.objects.create(name="other", cluster=cluster)
    make = NotificationTarget.objects.create
    make(name="global", url="http://x/", secret=SECRET, events=["backup.failed"])
    make(name="mine", url="http://x/", secret=SECRET, events=["backup.failed"], definition=definition)
    make(name="theirs", url="http://x/", secret=SECRET, events=["backup.failed"], definition=other)
    make(name="cancel-only", url="http://x/", secret=SECRET, events=["backup.cancelled"])
    make(name="off", url="http://x/", secret=SECRET, events=["backup.failed"], enabled=False)
    names = {
        t.name for t in notifications.targets_for({"event": "backup.failed", "definition_id": definition.pk})
    }
    assert names == {"global", "mine"}
    assert {t.name for t in notifications.targets_for({"event": "backup.failed"})} == {"global"}


def test_a_restore_that_fails_raises_restore_failed(queued, make_backup, tmp_path, settings):
    from backups.models import Restore, StorageLocation
    from backups.runs import restore_ops
    from backups.services import restores

    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    location = StorageLocation.objects.create(name="local", path=str(tmp_path / "storage"), default=True)
    backup = make_backup("nightly-9", phase=Backup.Phase.COMPLETED, storage_location=location)
    with queued() as payloads:
        bad = restores.create_restore("r-bad", backup, backup.cluster, namespace_mapping={"a": "x", "b": "x"})
        running = Restore.objects.create(
            name="r-run", backup=backup, backup_name=backup.name, cluster=backup.cluster,
            phase=Restore.Phase.IN_PROGRESS,
        )  # fmt: skip
        restore_ops.fail(running.pk, "the cluster went away")
    mine = {p["restore"]["name"]: p for p in payloads if "restore" in p}
    assert set(mine) == {"r-bad", "r-run"} and {p["event"] for p in mine.values()} == {"restore.failed"}
    assert (
        bad.phase == "FailedValidation" and "both mapped to 'x'" in mine["r-bad"]["restore"]["failure_reason"]
    )
    assert mine["r-run"]["restore"]["failure_reason"] == "the cluster went away"
    title, body = notifications.summary(mine["r-run"])
    assert title == "Restore r-run Failed" and "Reason: the cluster went away" in body
