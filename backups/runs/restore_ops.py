"""How a restore run ends, and what the machinery asks of it (`RunKind.ops` of the "restore"
kind): failed with the reason, cancelled once nothing of it runs, a batch given up after its last
attempt, and what follows a tier whose batches are all done (`restore_tiers`)."""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from backups import notices
from backups.engine.log import BackupLog
from backups.engine.restore import RestoreResults
from backups.engine.restore.results import FAILED
from backups.models import BlockBatch, Restore, RestoreLogEntry, RestoreTier
from backups.runs import batches, restore_tiers
from backups.runs.batch_sql import add_to_run, write_turn
from backups.runs.cancel import CancelOutcome
from backups.runs.kinds import RESTORE
from backups.runs.liveness import job_alive
from backups.runs.restore_records import changed, result_rows
from backups.runs.restore_session import item_of
from backups.runs.staging import Staging

Phase = Restore.Phase
logger = logging.getLogger(__name__)


def fail(run_id: int, reason: str, phase: str = Phase.FAILED) -> None:
    """End a restore that has not ended yet as Failed (or FailedValidation) with the reason."""
    field = "validation_errors" if phase == Phase.FAILED_VALIDATION else "failure_reason"
    value = [reason] if phase == Phase.FAILED_VALIDATION else reason
    rows = Restore.objects.filter(pk=run_id, phase__in=Restore.RUNNING)
    if not rows.update(phase=phase, completed=timezone.now(), **{field: value}):
        return
    restore = Restore.objects.filter(pk=run_id).first()
    if restore is not None:
        Staging.of_restore(restore).remove()
    changed(run_id)
    notices.restore_ended(run_id)


def fail_unexpected(run_id: int, error: BaseException, step: str) -> None:
    """An exception nobody anticipated: the restore ends Failed, saying which and where."""
    reason = f"{step} failed: {type(error).__name__}: {error}"
    logger.error("restore %s: %s", run_id, reason, exc_info=error)
    with write_turn, transaction.atomic():
        RestoreLogEntry.objects.create(restore_id=run_id, level="error", message=reason, time=time.time())
        add_to_run(RESTORE, run_id, errors=1)
    fail(run_id, reason)


def request_cancel(restore: Restore, by: str = "") -> CancelOutcome:
    """A new restore is cancelled at once; one in progress becomes Cancelling: no batch is
    claimed any more, running lanes stop after the item they are restoring, and the last to stop
    (or the watchdog) makes it Cancelled. Objects already restored stay (Velero has no rollback)."""
    name = restore.name
    for _ in range(10):
        phase = Restore.objects.filter(pk=restore.pk).values_list("phase", flat=True).first()
        if phase is None:
            return CancelOutcome(False, f"Restore {name} no longer exists.")
        rows = Restore.objects.filter(pk=restore.pk, phase=phase)
        if phase == Phase.NEW:
            if rows.update(phase=Phase.CANCELLED, completed=timezone.now(), cancelled_by=by):
                changed(restore.pk)
                return CancelOutcome(True, f"Restore {name} cancelled before it started.")
        elif phase == Phase.IN_PROGRESS:
            if rows.update(phase=Phase.CANCELLING, cancelled_by=by):
                changed(restore.pk)
                if cancel_finish(restore.pk):
                    return CancelOutcome(True, f"Restore {name} cancelled.")
                return CancelOutcome(
                    True, f"Restore {name} is being cancelled: items not started will not be restored."
                )
        elif phase == Phase.FINALIZING:
            return CancelOutcome(False, f"Restore {name} is finalizing: too late to cancel.")
        elif phase == Phase.CANCELLING:
            return CancelOutcome(False, f"Restore {name} is already being cancelled.")
        else:
            return CancelOutcome(False, f"Restore {name} is already {phase}: nothing to cancel.")
    return CancelOutcome(False, f"Restore {name} changed phase while being cancelled; try again.")


def cancelled(run_id: int) -> bool:
    """Asked by a running step between items: stop now?"""
    return not Restore.objects.filter(
        pk=run_id, phase__in=(Phase.NEW, Phase.IN_PROGRESS, Phase.FINALIZING)
    ).exists()


def cancel_finish(run_id: int, by_job: str | None = None) -> bool:
    """Make a Cancelling restore Cancelled once nothing of it runs: no live dispatch job (other
    than the caller's), no batch under a live lease."""
    restore = Restore.objects.filter(pk=run_id, phase=Phase.CANCELLING).first()
    if restore is None:
        return False
    if restore.job_id and restore.job_id != by_job and job_alive(restore.job_id):
        return False
    now = timezone.now()
    running = BlockBatch.objects.filter(
        run_kind=RESTORE.name, run_id=run_id, state=BlockBatch.State.RUNNING, lease_until__gte=now
    )
    if running.exists():
        return False
    if not Restore.objects.filter(pk=run_id, phase=Phase.CANCELLING).update(
        phase=Phase.CANCELLED, completed=now
    ):
        return False
    Staging.of_restore(restore).remove()
    logger.info(
        "restore %s cancelled%s", restore.name, f" by {restore.cancelled_by}" if restore.cancelled_by else ""
    )
    changed(run_id)
    return True


def give_up(batch: BlockBatch, reason: str) -> None:
    """After the last attempt, the batch's items are errors naming them; the restore goes on."""
    restore = Restore.objects.get(pk=batch.run_id)
    staging = Staging.of_restore(restore)
    results, log = RestoreResults(), BackupLog()
    tier, rows = staging.read_restore_batch(batch.number)
    for row in rows:
        item = item_of(row)
        message = f"{item}: not restored after {batch.attempts} attempts: {reason}"
        results.error(item.namespace, message)
        results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
        log.error(message, resource=item.group_resource, namespace=item.namespace, name=item.name)
    doc = results.as_json()
    staging.write_part(f"batch-{batch.number:07d}", {"results": doc, "hooks": []})
    staging.write_log(f"batch-{batch.number:07d}", log.entries)
    with write_turn, transaction.atomic():
        if not BlockBatch.objects.filter(
            pk=batch.pk, state__in=(BlockBatch.State.RUNNING, BlockBatch.State.ENQUEUED)
        ).update(state=BlockBatch.State.DONE, lease_until=None):
            return
        RestoreLogEntry.objects.bulk_create(result_rows(restore.pk, doc), batch_size=500)
        add_to_run(RESTORE, restore.pk, items_failed=len(rows), blocks_done=len(rows), errors=len(rows))
        RestoreTier.objects.filter(restore=restore, index=tier).update(failed=F("failed") + len(rows))
    changed(restore.pk)
    batches.enqueue_next_batches(restore.pk, [1], kind=RESTORE)
    batches.maybe_finalize(restore.pk, RESTORE)


def batches_done(run_id: int) -> bool:
    """Every batch handed out is done: the next tier's batches go out (True), or, after the
    last tier, finalize follows (False)."""
    return restore_tiers.next_tier(run_id)
