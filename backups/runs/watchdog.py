"""Keeps backups moving whatever happens to workers and Redis (spec part 1, item 9).

Velero marks a backup Failed when its server restarts; here the database holds every backup's
state, so a periodic tick re-queues what was lost: jobs gone with a restarted Redis, batches whose
worker died (lease expired), a dispatch or finalize whose worker vanished. Every transition is a
conditional update, so several watchdogs (the dashboard's and a CLI waiting on a backup) are safe.

Nothing is retried forever: a dispatch or finalize job that died or met a transient error is
enqueued again at most steps.MAX_STEP_ATTEMPTS times in all, a batch batches.MAX_BATCH_ATTEMPTS times;
then the backup fails (or the batch's blocks are errors) saying why.
"""

from __future__ import annotations

import logging
import time

from django.db.models import F
from django.utils import timezone

from backups.models import Backup, BlockBatch, OwedPostHooks, Restore
from backups.runs import admission, batches, cancel, liveness, owed_hooks, queues, steps
from backups.runs.kinds import BACKUP, RESTORE, RunKind
from backups.runs.liveness import job_alive, last_error

Phase = Backup.Phase
_dead_since: dict[str, float] = {}  # job id -> when this watchdog first found it not alive


def _dead(job_id: str) -> bool:
    """Not alive on two looks a second apart: a step's job id is stored a moment before its job
    is enqueued (queues.start_step), and a look in between must not cost the backup one of its attempts."""
    if job_alive(job_id):
        _dead_since.pop(job_id, None)
        return False
    now = time.monotonic()
    for stale in [j for j, since in _dead_since.items() if now - since > 3600]:  # steps that moved on
        del _dead_since[stale]
    return now - _dead_since.setdefault(job_id, now) >= 1.0


def _retry(run, phase_from: str, phase_to: str, step: str, attempts: int, kind: RunKind = BACKUP) -> None:
    """Enqueue `step` again for a run whose job died, or fail it after MAX_STEP_ATTEMPTS."""
    _dead_since.pop(run.job_id, None)
    if attempts >= steps.MAX_STEP_ATTEMPTS:
        reason = f"{step} did not finish after {attempts} attempts; last: {last_error(run.job_id)}"
        kind.ops().fail(run.pk, reason)
        return
    queues.start_step(run.pk, phase_from, phase_to, step, replacing=run.job_id, kind=kind)


def tick() -> None:
    """One look at every running backup:

    1. admit queued backups the running cap and the namespace rule allow;
    2. a ready backup whose dispatch job died is dispatched again;
    3. an in-progress (or cancelling) backup: the post-hooks a dead batch job owed run and its
       batches are handed out again; a cancelling one ends once nothing of it runs; one whose
       dispatcher died while planning is planned again; lapsed leases and lost batch jobs are
       recovered, and the last batch done starts finalize;
    4. a finalizing backup whose finalize job died is finalized again.

    Each step is bounded (MAX_STEP_ATTEMPTS, MAX_BATCH_ATTEMPTS), then the backup fails saying why.
    """
    admission.admit()
    for backup in Backup.objects.filter(phase=Phase.READY):
        if _dead(backup.job_id):
            _retry(backup, Phase.READY, Phase.READY, "dispatch", backup.attempt)
    for backup in Backup.objects.filter(phase__in=(Phase.IN_PROGRESS, Phase.CANCELLING)):
        _rescue_dead_jobs(backup)
        if backup.phase == Phase.CANCELLING:
            cancel.finish(backup.pk)
            continue
        planned = BlockBatch.objects.filter(backup=backup).exists()
        if not planned and backup.job_id.startswith("dispatch-") and _dead(backup.job_id):
            # the dispatcher died while planning: plan again from nothing
            _retry(backup, Phase.IN_PROGRESS, Phase.READY, "dispatch", backup.attempt)
            continue
        if planned:
            _recover_batches(backup)
            batches.maybe_finalize(backup.pk)
    for backup in Backup.objects.filter(phase=Phase.FINALIZING):
        if _dead(backup.job_id):
            _retry(backup, Phase.FINALIZING, Phase.FINALIZING, "finalize", backup.finalize_attempts)
    tick_restores()


def tick_restores() -> None:
    """The same look at every running restore: a new one whose dispatch job died is dispatched
    again; an in-progress one has its dead jobs' batches handed out again (a cancelling one ends
    once nothing of it runs), is planned again when its dispatcher died while planning, and moves
    on to its next tier or finalize; a finalizing one whose job died is finalized again."""
    R = Restore.Phase
    ops = RESTORE.ops()
    for restore in Restore.objects.filter(phase=R.NEW).exclude(job_id=""):
        if _dead(restore.job_id):
            _retry(restore, R.NEW, R.NEW, "dispatch", restore.attempt, RESTORE)
    for restore in Restore.objects.filter(phase__in=(R.IN_PROGRESS, R.CANCELLING)):
        _release_dead_jobs(RESTORE, restore.pk)
        if restore.phase == R.CANCELLING:
            ops.cancel_finish(restore.pk)
            continue
        planned = restore.total_tiers > 0 or restore.current_tier >= 0
        if not planned and restore.job_id.startswith("dispatch-") and _dead(restore.job_id):
            _retry(restore, R.IN_PROGRESS, R.NEW, "dispatch", restore.attempt, RESTORE)
            continue
        if planned:
            _recover_batches(restore, RESTORE)
            _hand_out_pending(restore)
            batches.maybe_finalize(restore.pk, RESTORE)
    for restore in Restore.objects.filter(phase=R.FINALIZING):
        if _dead(restore.job_id):
            _retry(restore, R.FINALIZING, R.FINALIZING, "finalize", restore.finalize_attempts, RESTORE)


def _hand_out_pending(restore: Restore) -> None:
    """A tier's batches were inserted but its process died before handing them out: nothing of
    the restore is enqueued or running while batches wait."""
    rows = BlockBatch.objects.filter(run_kind=RESTORE.name, run_id=restore.pk)
    if rows.filter(state__in=(BlockBatch.State.ENQUEUED, BlockBatch.State.RUNNING)).exists():
        return
    if rows.filter(state=BlockBatch.State.PENDING).exists():
        lanes = queues.split_lanes(restore.workers, queues.block_worker_processes())
        batches.enqueue_next_batches(restore.pk, lanes, kind=RESTORE)


def _release_dead_jobs(kind: RunKind, run_id: int) -> None:
    """Batches of a job that died lapse now (not after their lease): handed out again below."""
    running = BlockBatch.objects.filter(
        run_kind=kind.name, run_id=run_id, state=BlockBatch.State.RUNNING
    ).exclude(job_id="")
    dead = {job_id for job_id in set(running.values_list("job_id", flat=True)) if liveness.job_dead(job_id)}
    if dead:
        running.filter(job_id__in=dead).update(lease_until=timezone.now(), worker="")


def _rescue_dead_jobs(backup: Backup) -> None:
    """Within seconds of a batch job's death (not the lease's minute): run the post-hooks its
    blocks owe, then hand its batches out again (their lease lapses now)."""
    running = BlockBatch.objects.filter(backup=backup, state=BlockBatch.State.RUNNING).exclude(job_id="")
    owed = list(OwedPostHooks.objects.filter(backup=backup))
    job_ids = set(running.values_list("job_id", flat=True)) | {row.job_id for row in owed}
    dead = {job_id for job_id in job_ids if liveness.job_dead(job_id)}
    for row in owed:
        if row.job_id in dead:
            try:
                owed_hooks.rescue(row, by="the watchdog")
            except Exception:  # noqa: BLE001 - tried again next tick, or by the worker redoing it
                logging.getLogger(__name__).exception("post-hooks owed by block %s not run", row.block_index)
    if dead:
        running.filter(job_id__in=dead).update(lease_until=timezone.now(), worker="")


def _recover_batches(run, kind: RunKind = BACKUP) -> None:
    """Hand out again the run's batches whose lease lapsed or whose job was lost, each at most
    MAX_BATCH_ATTEMPTS times; then its kind gives the batch up (its items are errors)."""
    now = timezone.now()
    rows = BlockBatch.objects.filter(run_kind=kind.name, run_id=run.pk)
    for batch in rows.filter(state=BlockBatch.State.RUNNING, lease_until__lt=now):
        if batch.attempts >= batches.MAX_BATCH_ATTEMPTS:
            setattr(batch, kind.row_fk or "run", run)
            kind.ops().give_up(batch, last_error(batch.job_id))
            continue
        job_id = queues.batch_job_id(run.pk, batch.number, batch.attempts, "-retry", kind=kind)
        if BlockBatch.objects.filter(pk=batch.pk, state=BlockBatch.State.RUNNING, lease_until__lt=now).update(
            state=BlockBatch.State.ENQUEUED, job_id=job_id, worker=""
        ):
            queues.enqueue_batch_job(run.pk, batch.number, job_id, kind=kind)
    for batch in rows.filter(state=BlockBatch.State.ENQUEUED):
        if not job_alive(batch.job_id):
            if batch.attempts >= batches.MAX_BATCH_ATTEMPTS:  # its jobs keep failing before they claim it
                setattr(batch, kind.row_fk or "run", run)
                kind.ops().give_up(batch, f"its job did not start it: {last_error(batch.job_id)}")
                continue
            suffix = f"-requeued-{int(time.time())}"
            job_id = queues.batch_job_id(run.pk, batch.number, batch.attempts, suffix, kind=kind)
            # a lost or failed job counts as an attempt, so this is not retried forever
            if BlockBatch.objects.filter(
                pk=batch.pk, state=BlockBatch.State.ENQUEUED, job_id=batch.job_id
            ).update(job_id=job_id, attempts=F("attempts") + 1):
                queues.enqueue_batch_job(run.pk, batch.number, job_id, kind=kind)


def run_forever(interval: float = 2.0) -> None:
    while True:
        try:
            tick()
        except Exception:  # noqa: BLE001 - a failed tick (DB or Redis down) is retried next time
            logging.getLogger(__name__).exception("watchdog tick failed")
        time.sleep(interval)
