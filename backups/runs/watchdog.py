"""Keeps backups moving whatever happens to workers and Redis (spec part 1, item 9).

Velero marks a backup Failed when its server restarts; here the database holds every backup's
state, so a periodic tick re-queues what was lost: jobs gone with a restarted Redis, batches whose
worker died (lease expired), a dispatch or finalize whose worker vanished. Every transition is a
conditional update, so several watchdogs (the dashboard's and a CLI waiting on a backup) are safe.

Nothing is retried forever: a dispatch or finalize job that died or met a transient error is
enqueued again at most batches.MAX_STEP_ATTEMPTS times in all, a batch batches.MAX_BATCH_ATTEMPTS times;
then the backup fails (or the batch's blocks are errors) saying why.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, timedelta

import django_rq
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from backups.models import Backup, BlockBatch, OwedPostHooks
from backups.runs import batches, cancel, liveness, owed_hooks
from backups.services import backups as backup_services

Phase = Backup.Phase
ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def job_alive(job_id: str) -> bool:
    """Queued, or started by a worker that still beats."""
    if not job_id:
        return False
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status not in ALIVE:
        return False
    if status == JobStatus.STARTED and job.last_heartbeat:
        stale = timezone.now() - timedelta(seconds=max(90.0, 2 * settings.VELOWEB_BATCH_LEASE_SECONDS))
        heartbeat = job.last_heartbeat
        if timezone.is_naive(heartbeat):
            heartbeat = heartbeat.replace(tzinfo=UTC)
        return heartbeat > stale
    return True


def last_error(job_id: str) -> str:
    """The last line of the exception that ended an RQ job, or why there is none."""
    try:
        job = Job.fetch(job_id, connection=django_rq.get_connection("default"))
    except NoSuchJobError:
        return "its job was lost (Redis restarted?)"
    text = (job.exc_info or "").strip()
    return text.splitlines()[-1] if text else "its worker stopped responding"


_dead_since: dict[str, float] = {}  # job id -> when this watchdog first found it not alive


def _dead(job_id: str) -> bool:
    """Not alive on two looks a second apart: a step's job id is stored a moment before its job
    is enqueued (start_job), and a look in between must not cost the backup one of its attempts."""
    if job_alive(job_id):
        _dead_since.pop(job_id, None)
        return False
    now = time.monotonic()
    for stale in [j for j, since in _dead_since.items() if now - since > 3600]:  # steps that moved on
        del _dead_since[stale]
    return now - _dead_since.setdefault(job_id, now) >= 1.0


def _retry(backup: Backup, phase_from: str, phase_to: str, step: str, attempts: int) -> None:
    """Enqueue `step` again for a backup whose job died, or fail it after MAX_STEP_ATTEMPTS."""
    _dead_since.pop(backup.job_id, None)
    if attempts >= batches.MAX_STEP_ATTEMPTS:
        reason = f"{step} did not finish after {attempts} attempts; last: {last_error(backup.job_id)}"
        batches._fail(backup.pk, reason)
        return
    backup_services.start_job(backup.pk, phase_from, phase_to, step, replacing=backup.job_id)


def tick() -> None:
    backup_services.admit()
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
            batches._maybe_finalize(backup.pk)
    for backup in Backup.objects.filter(phase=Phase.FINALIZING):
        if _dead(backup.job_id):
            _retry(backup, Phase.FINALIZING, Phase.FINALIZING, "finalize", backup.finalize_attempts)


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


def _recover_batches(backup: Backup) -> None:
    now = timezone.now()
    for batch in BlockBatch.objects.filter(
        backup=backup, state=BlockBatch.State.RUNNING, lease_until__lt=now
    ):
        if batch.attempts >= batches.MAX_BATCH_ATTEMPTS:
            batch.backup = backup
            batches._give_up(batch, last_error(batch.job_id), batches.Staging.of(backup))
            continue
        job_id = f"batch-{backup.pk}-{batch.number}-{batch.attempts}-retry"
        if BlockBatch.objects.filter(pk=batch.pk, state=BlockBatch.State.RUNNING, lease_until__lt=now).update(
            state=BlockBatch.State.ENQUEUED, job_id=job_id, worker=""
        ):
            batches.enqueue_batch_job(backup.pk, batch.number, job_id)
    for batch in BlockBatch.objects.filter(backup=backup, state=BlockBatch.State.ENQUEUED):
        if not job_alive(batch.job_id):
            if batch.attempts >= batches.MAX_BATCH_ATTEMPTS:  # its jobs keep failing before they claim it
                batch.backup = backup
                reason = f"its job did not start it: {last_error(batch.job_id)}"
                batches._give_up(batch, reason, batches.Staging.of(backup))
                continue
            job_id = f"batch-{backup.pk}-{batch.number}-{batch.attempts}-requeued-{int(time.time())}"
            # a lost or failed job counts as an attempt, so this is not retried forever
            if BlockBatch.objects.filter(
                pk=batch.pk, state=BlockBatch.State.ENQUEUED, job_id=batch.job_id
            ).update(job_id=job_id, attempts=F("attempts") + 1):
                batches.enqueue_batch_job(backup.pk, batch.number, job_id)


def run_forever(interval: float = 2.0) -> None:
    while True:
        try:
            tick()
        except Exception:  # noqa: BLE001 - a failed tick (DB or Redis down) is retried next time
            logging.getLogger(__name__).exception("watchdog tick failed")
        time.sleep(interval)
