"""Cancel from the backup's page and what the Cancelled phase means to everything that lists
phases: each phase a cancel can meet (no worker here: the running steps are rows in the states
the jobs leave them), delete of a running backup, the history filter, schedules, expiry, imports
and the live page. The real runs are in tests/runs/test_cancel.py and tests/browser/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from backups.live.render import live_fragments
from backups.models import Backup, BackupDefinition, BlockBatch, BlockRun, OwedPostHooks
from backups.runs import cancel
from backups.runs.staging import Staging
from backups.services import backups as backup_services
from backups.services.expiry import collect_expired
from backups.services.imports import backup_fields
from backups.services.schedules import fire_due, state_of

Phase = Backup.Phase


@pytest.fixture(autouse=True)
def staging_dir(settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0  # nothing is admitted: no RQ job is enqueued


@pytest.fixture
def running(make_backup):
    """An InProgress backup whose one lane is inside block 0 (batch 0 leased), block 1 pending,
    with a staging folder holding what it wrote so far."""
    backup = make_backup("running-1", phase=Phase.IN_PROGRESS, total_blocks=2, started=timezone.now())
    lease = timezone.now() + timedelta(seconds=60)
    BlockBatch.objects.create(
        backup=backup,
        number=0,
        first_block=0,
        block_count=1,
        item_count=3,
        state="running",
        lease_until=lease,
    )
    BlockBatch.objects.create(backup=backup, number=1, first_block=1, block_count=1, item_count=1)
    BlockRun.objects.create(
        backup=backup, index=0, batch=0, item_count=3, first_item="pods shop/db-0", state="items"
    )
    BlockRun.objects.create(backup=backup, index=1, batch=1, item_count=1, first_item="configmaps shop/a")
    Staging.of(backup).reset()
    return backup


def lane_stops(backup):
    """What the lane does when its block ends: its batch is done, and it looks whether it was last."""
    BlockBatch.objects.filter(backup=backup, number=0).update(state="done", lease_until=None)
    BlockRun.objects.filter(backup=backup, index=0).update(state="cancelled")
    return cancel.finish(backup.pk)


def test_a_viewer_cannot_cancel(client_as, running):
    client = client_as("viewer")
    assert client.get(f"/backups/{running.pk}/").status_code == 200
    assert b"cancel-backup" not in client.get(f"/backups/{running.pk}/").content
    assert client.post(f"/backups/{running.pk}/cancel/").status_code == 403
    assert Backup.objects.get(pk=running.pk).phase == Phase.IN_PROGRESS


def test_cancel_of_a_running_backup_asks_first_then_waits_for_its_running_block(client_as, running):
    client = client_as("operator")
    page = client.get(f"/backups/{running.pk}/").content.decode()
    assert f'href="/backups/{running.pk}/cancel/"' in page
    confirm = client.get(f"/backups/{running.pk}/cancel/").content.decode()
    assert 'id="confirm-cancel"' in confirm and "post-hooks" in confirm
    assert Backup.objects.get(pk=running.pk).phase == Phase.IN_PROGRESS  # asking changed nothing

    response = client.post(f"/backups/{running.pk}/cancel/", follow=True)
    page = response.content.decode()
    assert "is being cancelled" in page and 'id="cancelling"' in page
    backup = Backup.objects.get(pk=running.pk)
    assert backup.phase == Phase.CANCELLING and backup.cancelled_by == "operator-user"
    assert Staging.of(backup).root.exists()  # the lane in block 0 still writes there

    assert lane_stops(backup)
    backup.refresh_from_db()
    assert backup.phase == Phase.CANCELLED and backup.is_terminal and backup.completed
    assert not Staging.of(backup).root.exists()
    assert list(BlockRun.objects.filter(backup=backup).values_list("state", flat=True)) == ["cancelled"] * 2
    page = client.get(f"/backups/{running.pk}/").content.decode()
    assert 'id="cancelled-panel"' in page and 'class="badge cancelled"' in page
    assert '<progress class="bar" value="0"' in page  # the bar shows how far it got, not a full bar
    assert 'id="cancel-backup"' not in page


def test_cancelling_twice_or_after_the_end_is_a_no_op_that_says_so(client_as, running, make_backup):
    client = client_as("operator")
    assert cancel.request_cancel(running).changed
    response = client.post(f"/backups/{running.pk}/cancel/", follow=True)
    assert "Backup running-1 is already being cancelled." in response.content.decode()
    lane_stops(running)
    again = cancel.request_cancel(running)
    assert not again.changed and again.message == "Backup running-1 is already cancelled."
    done = make_backup("done-1", phase=Phase.COMPLETED)
    outcome = cancel.request_cancel(done)
    assert not outcome.changed and outcome.message == "Backup done-1 is already Completed: nothing to cancel."
    assert Backup.objects.get(pk=done.pk).phase == Phase.COMPLETED
    page = client.get(f"/backups/{done.pk}/cancel/").content.decode()
    assert 'id="not-cancellable"' in page and "confirm-cancel" not in page
    assert "is Completed: there is nothing to cancel" in page
    page = client.get(f"/backups/{running.pk}/cancel/").content.decode()
    assert "Backup running-1 is already cancelled." in page


def test_a_queued_backup_is_cancelled_at_once_and_the_queue_renumbered(client_as, make_backup):
    first = make_backup("queued-1", phase=Phase.QUEUED, queue_position=1)
    second = make_backup("queued-2", phase=Phase.QUEUED, queue_position=2)
    response = client_as("operator").post(f"/backups/{first.pk}/cancel/", follow=True)
    assert "Backup queued-1 cancelled before it started." in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.phase == Phase.CANCELLED and first.queue_position is None
    assert second.phase == Phase.QUEUED and second.queue_position == 1


def test_finalizing_is_cancellable_until_the_upload_starts(make_backup):
    # no finalize job is alive here: the cancel takes effect at once
    before = make_backup("finalizing-1", phase=Phase.FINALIZING, job_id="finalize-gone")
    assert cancel.request_cancel(before).message == "Backup finalizing-1 cancelled."
    assert Backup.objects.get(pk=before.pk).phase == Phase.CANCELLED
    uploading = make_backup("uploading-1", phase=Phase.FINALIZING, upload_started=timezone.now())
    outcome = cancel.request_cancel(uploading)
    assert not outcome.changed and outcome.message == "Backup uploading-1 is uploading: too late to cancel."
    assert Backup.objects.get(pk=uploading.pk).phase == Phase.FINALIZING


def test_post_hooks_still_owed_keep_the_backup_cancelling(running):
    cancel.request_cancel(running)
    OwedPostHooks.objects.create(
        backup=running, block_index=0, batch=0, job_id="j", worker="w", pods=[], created=timezone.now()
    )
    assert not lane_stops(running)  # a dead worker's pod is still frozen: the watchdog thaws it first
    assert Backup.objects.get(pk=running.pk).phase == Phase.CANCELLING
    OwedPostHooks.objects.all().delete()
    assert cancel.finish(running.pk)


def test_deleting_a_running_backup_cancels_it_and_deletes_it_when_the_cancel_is_done(client_as, running):
    client = client_as("operator")
    confirm = client.get(f"/backups/{running.pk}/delete/").content.decode()
    assert 'id="delete-running"' in confirm and "cancelled first" in confirm
    response = client.post(f"/backups/{running.pk}/delete/", follow=True)
    assert "it will be deleted once its running blocks have run their post-hooks" in response.content.decode()
    backup = Backup.objects.get(pk=running.pk)
    assert backup.phase == Phase.CANCELLING and backup.delete_requested
    assert lane_stops(backup)  # nobody comes back: the cancel, once done, deletes it
    assert not Backup.objects.filter(pk=running.pk).exists()
    assert not Staging.of(backup).root.exists()


def test_the_history_filters_and_badges_cancelled_backups(client_as, make_backup):
    make_backup("gone-1", phase=Phase.CANCELLED)
    make_backup("ok-1", phase=Phase.COMPLETED)
    client = client_as("viewer")
    page = client.get("/").content.decode()
    assert '<option value="Cancelled">Cancelled</option>' in page
    filtered = client.get("/", {"phase": "Cancelled"}).content.decode()
    assert "gone-1" in filtered and "ok-1" not in filtered
    assert '<span class="badge cancelled">Cancelled</span>' in filtered


def test_a_cancelled_backup_expires_like_a_failed_one(make_backup):
    location = backup_services.default_storage_location()
    past = timezone.now() - timedelta(hours=1)
    make_backup("gone-1", phase=Phase.CANCELLED, expiration=past, storage_location=location)
    make_backup("stopping-1", phase=Phase.CANCELLING, expiration=past, storage_location=location)
    assert collect_expired()["deleted"] == ["gone-1"]  # one still cancelling is not collected
    assert list(Backup.objects.values_list("name", flat=True)) == ["stopping-1"]


def test_a_schedule_waits_for_a_cancelling_run_not_for_a_cancelled_one(cluster):
    from datetime import UTC, datetime

    nightly = BackupDefinition.objects.create(
        name="nightly", cluster=cluster, schedule="0 3 * * *", schedule_since=datetime(2026, 1, 1, tzinfo=UTC)
    )
    fire_due(now=datetime(2026, 1, 1, 3, 0, 30, tzinfo=UTC))
    first = Backup.objects.get()
    Backup.objects.filter(pk=first.pk).update(phase=Phase.CANCELLING)
    assert state_of(nightly, datetime(2026, 1, 2, 3, 0, 30, tzinfo=UTC)).waiting_for == first
    Backup.objects.filter(pk=first.pk).update(phase=Phase.CANCELLED)
    nightly.refresh_from_db()
    assert fire_due(now=datetime(2026, 1, 2, 3, 1, tzinfo=UTC)) == ["nightly-20260102030100"]


def test_a_cancelled_phase_found_in_a_location_imports_as_failed():
    """Veloweb uploads nothing of a cancelled backup: such a file was left by something unfinished."""
    cr = {"kind": "Backup", "apiVersion": "velero.io/v1", "metadata": {"name": "x"}, "spec": {}}
    fields = backup_fields({**cr, "status": {"phase": "Cancelled"}}, "x", "bucket")
    assert fields["phase"] == Phase.FAILED
    assert "with phase Cancelled: it did not finish where it ran" in fields["failure_reason"]


def test_the_live_page_shows_the_end_of_a_cancel(make_user, running):
    cancel.request_cancel(running, by="olivia")
    (summary,) = live_fragments(running.pk, make_user("viewer"), 1, indexes=[], details=True)
    assert "Cancelling" in summary and "Cancel asked by <b>olivia</b>" in summary
    lane_stops(running)
    summary, rows = live_fragments(running.pk, make_user("operator"), 1, indexes=[], details=True)
    assert 'id="phase">Cancelled<' in summary and 'id="cancelled-panel"' in summary
    assert rows.count('class="state-cancelled"') == 2  # the rows are resent as they ended
