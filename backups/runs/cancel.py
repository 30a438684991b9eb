"""Cancelling a backup (spec part 1 item 11; Velero has none yet: issue #2098, design PR #9284).

A Queued or ReadyToStart backup is Cancelled at once: nothing of it ran. An InProgress backup, or
a Finalizing one whose upload has not begun, becomes Cancelling, which every step notices:

- no batch is claimed any more (a claim requires InProgress), so blocks not started never start;
- the dispatcher stops planning (it looks about once a second);
- a block with hooks asks after its pre-hooks, writes nothing and runs its post-hooks (a frozen
  database is thawed), then stops;
- finalize stops before it uploads.

The last of them to stop (or the watchdog, when a worker died) makes it Cancelled: unfinished
blocks are marked cancelled, the staging folder (what was written) is removed, nothing is
uploaded, queued backups are admitted, and a delete asked meanwhile is carried out. Once the
upload began it is too late: the backup ends as it would have.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone

from backups import notices
from backups.live import progress
from backups.models import Backup, BlockBatch, BlockRun, OwedPostHooks
from backups.runs import admission, removal
from backups.runs.liveness import job_alive
from backups.runs.staging import Staging

Phase = Backup.Phase
logger = logging.getLogger(__name__)
_NOT_STARTED = (Phase.NEW, Phase.QUEUED, Phase.READY)


@dataclass(frozen=True)
class CancelOutcome:
    changed: bool  # False: a no-op (already finished, already cancelled, too late)
    message: str


def request_cancel(backup: Backup, by: str = "") -> CancelOutcome:
    """Cancel `backup` now or as soon as its running blocks finished their post-hooks."""
    name = backup.name
    for _ in range(10):  # a phase that moved between the read and the update is read again
        current = Backup.objects.filter(pk=backup.pk).values_list("phase", "upload_started").first()
        if current is None:
            return CancelOutcome(False, f"Backup {name} no longer exists.")
        phase, upload_started = current
        rows = Backup.objects.filter(pk=backup.pk, phase=phase)
        if phase in _NOT_STARTED:
            if rows.update(
                phase=Phase.CANCELLED, completed=timezone.now(), cancelled_by=by, queue_position=None
            ):
                _ended(backup.pk)
                if phase == Phase.QUEUED:
                    admission.renumber_queue()  # the ones behind it move up
                return CancelOutcome(True, f"Backup {name} cancelled before it started.")
        elif phase in (Phase.IN_PROGRESS, Phase.FINALIZING):
            if phase == Phase.FINALIZING and upload_started:
                return CancelOutcome(False, f"Backup {name} is uploading: too late to cancel.")
            if rows.filter(upload_started__isnull=True).update(phase=Phase.CANCELLING, cancelled_by=by):
                progress.backup_changed(backup.pk)
                if finish(backup.pk):
                    return CancelOutcome(True, f"Backup {name} cancelled.")
                return CancelOutcome(
                    True,
                    f"Backup {name} is being cancelled: blocks not started will not start, running "
                    "blocks run their post-hooks and stop.",
                )
        elif phase == Phase.CANCELLING:
            return CancelOutcome(False, f"Backup {name} is already being cancelled.")
        elif phase == Phase.CANCELLED:
            return CancelOutcome(False, f"Backup {name} is already cancelled.")
        else:
            return CancelOutcome(False, f"Backup {name} is already {phase}: nothing to cancel.")
    return CancelOutcome(False, f"Backup {name} changed phase while being cancelled; try again.")


def cancelled(backup_id: int) -> bool:
    """Asked by a running step (the dispatcher, a block after its pre-hooks): stop now?"""
    return (
        not Backup.objects.filter(pk=backup_id)
        .exclude(phase__in=(Phase.CANCELLING, Phase.CANCELLED))
        .exists()
    )


def finish(backup_id: int, by_job: str | None = None) -> bool:
    """Make a Cancelling backup Cancelled once nothing of it runs: no live dispatch or finalize
    job (other than `by_job`, the caller's own), no batch under a live lease, no post-hooks owed.
    Whoever stops last calls this; the watchdog calls it for workers that died."""
    backup = Backup.objects.filter(pk=backup_id, phase=Phase.CANCELLING).first()
    if backup is None:
        return False
    if backup.job_id and backup.job_id != by_job and job_alive(backup.job_id):
        return False
    now = timezone.now()
    if BlockBatch.objects.filter(
        backup_id=backup_id, state=BlockBatch.State.RUNNING, lease_until__gte=now
    ).exists():
        return False
    if OwedPostHooks.objects.filter(backup_id=backup_id).exists():
        return False
    if not Backup.objects.filter(pk=backup_id, phase=Phase.CANCELLING).update(
        phase=Phase.CANCELLED, completed=now
    ):
        return False
    BlockRun.objects.filter(backup_id=backup_id).exclude(
        state__in=(BlockRun.State.DONE, BlockRun.State.FAILED, BlockRun.State.CANCELLED)
    ).update(state=BlockRun.State.CANCELLED)
    _ended(backup_id)
    return True


def _ended(backup_id: int) -> None:
    """A cancel took effect: remove what was written, free the backup's place, honour a delete."""
    backup = Backup.objects.select_related("storage_location").filter(pk=backup_id).first()
    if backup is None:
        return
    Staging.of(backup).remove()
    logger.info(
        "backup %s cancelled%s", backup.name, f" by {backup.cancelled_by}" if backup.cancelled_by else ""
    )
    progress.backup_changed(backup_id)
    notices.backup_ended(backup_id)
    admission.admit()
    delete_if_requested(backup)


def delete_if_requested(backup: Backup) -> None:
    """A backup deleted while it ran is deleted once it ended (cancelled, or too late to cancel)."""
    if not Backup.objects.filter(pk=backup.pk, delete_requested=True).exists():
        return
    backup.refresh_from_db()
    try:
        removal.remove_ended(backup)
    except Exception:  # noqa: BLE001 - the row stays, marked; deleting it again retries
        logger.exception("backup %s ended but could not be deleted as asked", backup.name)
