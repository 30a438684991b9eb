"""Keeps backups moving whatever happens to workers and Redis (spec part 1, item 9).

Velero marks a backup Failed when its server restarts; here the database holds every backup's
state, so a periodic tick re-queues what was lost: jobs gone with a restarted Redis, batches whose
worker died (lease expired), a dispatch or finalize whose worker vanished. Every transition is a
conditional update, so several watchdogs (the dashboard's and a CLI waiting on a backup) are safe.
"""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import django_rq
from django.conf import settings
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from backups import jobs, services
from backups.models import Backup, BlockBatch

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


def tick() -> None:
    services.admit()
    for backup in Backup.objects.filter(phase=Phase.READY):
        if not job_alive(backup.job_id):
            services.start_job(backup.pk, Phase.READY, Phase.READY, "dispatch", replacing=backup.job_id)
    for backup in Backup.objects.filter(phase=Phase.IN_PROGRESS):
        planned = BlockBatch.objects.filter(backup=backup).exists()
        if not planned and backup.job_id.startswith("dispatch-") and not job_alive(backup.job_id):
            # the dispatcher died while planning: plan again from nothing
            services.start_job(backup.pk, Phase.IN_PROGRESS, Phase.READY, "dispatch", replacing=backup.job_id)
            continue
        if planned:
            _recover_batches(backup)
            jobs._maybe_finalize(backup.pk)
    for backup in Backup.objects.filter(phase=Phase.FINALIZING):
        if not job_alive(backup.job_id):
            services.start_job(
                backup.pk, Phase.FINALIZING, Phase.FINALIZING, "finalize", replacing=backup.job_id
            )


def _recover_batches(backup: Backup) -> None:
    now = timezone.now()
    for batch in BlockBatch.objects.filter(
        backup=backup, state=BlockBatch.State.RUNNING, lease_until__lt=now
    ):
        if batch.attempts >= jobs.MAX_BATCH_ATTEMPTS:
            batch.backup = backup
            jobs._give_up(batch, "its worker stopped responding", jobs.Staging.of(backup))
            continue
        job_id = f"batch-{backup.pk}-{batch.number}-{batch.attempts}-retry"
        if BlockBatch.objects.filter(pk=batch.pk, state=BlockBatch.State.RUNNING, lease_until__lt=now).update(
            state=BlockBatch.State.ENQUEUED, job_id=job_id, worker=""
        ):
            jobs.enqueue_batch_job(backup.pk, batch.number, job_id)
    for batch in BlockBatch.objects.filter(backup=backup, state=BlockBatch.State.ENQUEUED):
        if not job_alive(batch.job_id):
            job_id = f"batch-{backup.pk}-{batch.number}-{batch.attempts}-requeued-{int(time.time())}"
            if BlockBatch.objects.filter(
                pk=batch.pk, state=BlockBatch.State.ENQUEUED, job_id=batch.job_id
            ).update(job_id=job_id):
                jobs.enqueue_batch_job(backup.pk, batch.number, job_id)


def run_forever(interval: float = 2.0) -> None:
    while True:
        try:
            tick()
        except Exception:  # noqa: BLE001 - a failed tick (DB or Redis down) is retried next time
            import logging

            logging.getLogger(__name__).exception("watchdog tick failed")
        time.sleep(interval)
