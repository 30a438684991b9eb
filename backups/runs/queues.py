"""Queue names, job timeouts and job ids of the run machinery, and how its jobs are enqueued.

Jobs are enqueued by the dotted path of their entry point (`RunKind`'s tasks, in
`backups.runs.tasks` for backups), so that the modules that enqueue never import the entry
points (which import them)."""

from __future__ import annotations

import logging
import uuid

import django_rq
from django.db import transaction
from django.db.models import F
from rq.worker import Worker as RQWorker

from backups.models import Backup
from backups.runs.kinds import BACKUP, RunKind

Phase = Backup.Phase
logger = logging.getLogger(__name__)
DEFAULT_QUEUE = "default"  # dispatch and finalize steps, periodic jobs, previews
BLOCKS_QUEUE = "blocks"  # batches of blocks
STEP_JOB_TIMEOUT = 6 * 3600  # RQ's hard limit for a dispatch or finalize job
BATCH_JOB_TIMEOUT = 4 * 3600  # RQ's hard limit for one job: a batch may wait long for hooks and snapshots


def step_job_id(step: str, backup_id: int) -> str:
    """`dispatch-12-<random>`: the watchdog tells a dispatcher from a finalizer by the prefix."""
    return f"{step}-{backup_id}-{uuid.uuid4().hex[:12]}"


def batch_job_id(backup_id: int, number: int, attempts: int, suffix: str = "", kind: RunKind = BACKUP) -> str:
    """`batch-12-3-1`: the batch's backup, number and attempt; a retry or requeue adds a suffix;
    another kind's runs prefix theirs (`restore-batch-12-3-1`)."""
    return f"{kind.job_prefix}batch-{backup_id}-{number}-{attempts}{suffix}"


def start_step(
    backup_id: int,
    phase_from: str,
    phase_to: str,
    job: str,
    replacing: str | None = None,
    kind: RunKind = BACKUP,
) -> bool:
    """Move a backup between phases and enqueue the job for the new phase, as one step.

    The job id is stored with the phase change (compare-and-swap on the previous job id when
    `replacing` is given), so a watchdog never sees a phase without its job, two watchdogs never
    enqueue the same step twice, and a stale duplicate job recognises itself and does nothing.
    The job is enqueued once the change is committed, so it never starts before its phase.
    """
    job_id = step_job_id(job, backup_id)
    rows = kind.model.objects.filter(pk=backup_id, phase=phase_from)
    if replacing is not None:
        rows = rows.filter(job_id=replacing)
    changes = {"phase": phase_to, "job_id": job_id}
    if kind is BACKUP and phase_to == Phase.READY:
        changes["queue_position"] = None
    # each job enqueued for a step counts, whether it runs, fails or is lost with Redis: the
    # watchdog retries a step a bounded number of times (steps.MAX_STEP_ATTEMPTS)
    counter = {"dispatch": "attempt", "finalize": "finalize_attempts"}[job]
    changes[counter] = F(counter) + 1
    if not rows.update(**changes):
        return False
    func = {"dispatch": kind.dispatch_task, "finalize": kind.finalize_task}[job]
    transaction.on_commit(
        lambda: django_rq.get_queue(DEFAULT_QUEUE).enqueue(
            func, backup_id, job_id=job_id, job_timeout=STEP_JOB_TIMEOUT
        )
    )
    return True


def split_lanes(workers: int, processes: int) -> list[int]:
    """A backup's `workers` as lanes of at most `processes` jobs, as even as can be (16 over 2
    processes: [8, 8]; 5 over 2: [3, 2]; 2 over 4: [1, 1]): CPU-bound blocks use every process,
    latency-bound ones as many threads as the backup asks for."""
    workers = max(1, workers)
    jobs = max(1, min(workers, processes))
    return [workers // jobs + (1 if i < workers % jobs else 0) for i in range(jobs)]


def block_worker_processes() -> int:
    queue = django_rq.get_queue(BLOCKS_QUEUE)
    return RQWorker.count(connection=queue.connection, queue=queue)


def enqueue_batch_job(backup_id: int, number: int, job_id: str, kind: RunKind = BACKUP) -> None:
    queue = django_rq.get_queue(BLOCKS_QUEUE)
    queue.enqueue_many([batch_job(queue, backup_id, number, job_id, kind=kind)])


def batch_job(queue, run_id: int, number: int, job_id: str, lanes: int = 1, kind: RunKind = BACKUP):
    """The RQ job data of a batch job: its kind's batch task (`RunKind.batch_task`)."""
    args = (run_id, number, lanes)
    return queue.prepare_data(kind.batch_task, args, job_id=job_id, timeout=BATCH_JOB_TIMEOUT)


def current_job_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job else None
