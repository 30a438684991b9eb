"""The batch state machine: Pending -> Enqueued -> Running (claimed, leased) -> Done.

The database is the truth and every transition is a conditional update, so a job that runs
twice (a retry, a worker that was presumed dead) changes nothing the second time, and a batch's
archive member is replaced, never duplicated. The watchdog calls `give_up` and `maybe_finalize`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import django_rq
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from backups.engine.log import BackupLog
from backups.engine.velero_format.volume_info import volume_info
from backups.live import progress
from backups.models import Backup, BackupLogEntry, BlockBatch, BlockRun
from backups.runs import leases, queues, steps
from backups.runs.batch_sql import (
    RESULT_COLUMNS,
    add_to_run,
    claim_pending_batch,
    db_time,
    finish_batch,
    insert_hook_runs,
    update_block_runs,
    write_turn,
)
from backups.runs.kinds import BACKUP, RunKind
from backups.runs.staging import Staging

Phase = Backup.Phase
logger = logging.getLogger(__name__)
MAX_BATCH_ATTEMPTS = 3


def enqueue_next_batches(backup_id: int, jobs: list[int], kind: RunKind = BACKUP) -> int:
    """Hand the next pending batches to RQ, one job per entry of `jobs` (its lanes), in one
    pipeline; returns how many jobs. Callers pass the places that came free, so a run never
    has more than `workers` batches in flight."""
    handed: list[tuple[int, str, int]] = []
    pending = BlockBatch.objects.filter(run_kind=kind.name, run_id=backup_id, state=BlockBatch.State.PENDING)
    for pk, number, attempts in pending.values_list("pk", "number", "attempts")[: len(jobs) + 4]:
        job_id = queues.batch_job_id(backup_id, number, attempts, kind=kind)
        if BlockBatch.objects.filter(pk=pk, state=BlockBatch.State.PENDING).update(
            state=BlockBatch.State.ENQUEUED, job_id=job_id
        ):
            handed.append((number, job_id, jobs[len(handed)]))
            if len(handed) == len(jobs):
                break
    if handed:
        queue = django_rq.get_queue(queues.BLOCKS_QUEUE)
        queue.enqueue_many([queues.batch_job(queue, backup_id, *job, kind=kind) for job in handed])
    return len(handed)


def claim(backup_id: int, number: int, worker: str, job_id: str = "", kind: RunKind = BACKUP) -> bool:
    """Take batch `number` for `worker` of job `job_id`: enqueued or pending, or running with a
    lapsed lease, while the run is in progress. The job is recorded: the watchdog hands out
    again the batches of a dead job."""
    now = timezone.now()
    in_progress = Exists(kind.model.objects.filter(pk=OuterRef("run_id"), phase=kind.in_progress))
    claimable = BlockBatch.objects.filter(in_progress, run_kind=kind.name, run_id=backup_id, number=number)
    taken = dict(attempts=F("attempts") + 1, lease_until=leases.lease_until(), worker=worker, job_id=job_id)
    return bool(
        claimable.filter(state__in=(BlockBatch.State.ENQUEUED, BlockBatch.State.PENDING)).update(
            state=BlockBatch.State.RUNNING, **taken
        )
        or claimable.filter(state=BlockBatch.State.RUNNING, lease_until__lt=now).update(**taken)
    )


def release(batch: BlockBatch, worker: str) -> None:
    """Give a batch that failed back: its lease lapses now and no heartbeat renews it."""
    with write_turn:
        BlockBatch.objects.filter(pk=batch.pk, state=BlockBatch.State.RUNNING, worker=worker).update(
            lease_until=timezone.now(), worker=""
        )


def complete(
    batch: BlockBatch,
    worker: str,
    outcomes,
    log: BackupLog,
    staging: Staging,
    go_on: bool = False,
    job_id: str = "",
) -> BlockBatch | None:
    """Record a finished batch in one transaction; with `go_on`, the same transaction claims the
    backup's next pending batch for this worker (and returns it), so the backup never has
    fewer batches in flight, even when the process dies right after the commit."""
    backup = batch.backup
    # the last column marks items a block added itself (snapshots): they do not call for a CRD
    written = [
        [*key, kind, int(key in extra)]
        for _, result, _ in outcomes
        for extra in [set(result.additional)]
        for key, kind in result.written
    ]
    snapshots = [s for _, result, _ in outcomes for s in result.snapshots]
    classes = {
        s.snapshot_class["metadata"]["name"]: s.snapshot_class for s in snapshots if s.ok and s.snapshot_class
    }
    infos = [info for info in map(volume_info, snapshots) if info]
    snapshot_seconds = sum(max(0.0, s.finished - s.started) for s in snapshots if s.attempted)
    staging.write_outcome(batch.number, written, classes, infos, {"snapshots": snapshot_seconds})
    staging.write_log(f"batch-{batch.number:07d}", log.entries)
    with write_turn, transaction.atomic():
        if not finish_batch(batch.pk, worker):
            return None  # presumed dead and taken over: the other run records the batch
        plain, eventful, hook_rows, log_rows = [], [], [], []
        for index, result, block_log in outcomes:
            if result.skipped or block_log.entries or result.hook_results or result.snapshots:
                eventful.append((index, result, block_log))
            else:
                plain.append(index)
            log_rows += steps.log_rows(backup, block_log.entries, index)
            hook_rows += [(index, hook) for hook in result.hook_results]
        # most blocks are one object that went fine: one UPDATE for all of them
        if plain:
            first = min(r.started for i, r, _ in outcomes)
            last = max(r.finished for i, r, _ in outcomes)
            for chunk in range(0, len(plain), 500):
                run_blocks = BlockRun.objects.filter(run_kind=BACKUP.name, run_id=backup.pk)
                run_blocks.filter(index__in=plain[chunk : chunk + 500]).update(
                    state=BlockRun.State.DONE,
                    items_written=F("item_count"),
                    snapshot_objects=0,
                    items_skipped=0,
                    errors=0,
                    warnings=0,
                    attempts=batch.attempts,
                    started=datetime.fromtimestamp(first, tz=UTC),
                    finished=datetime.fromtimestamp(last, tz=UTC),
                )
        update_block_runs(
            BACKUP,
            backup.pk,
            RESULT_COLUMNS,
            [
                (
                    _block_state_of(result, block_log),
                    len(result.written),
                    len(result.additional),
                    len(result.skipped),
                    block_log.errors,
                    block_log.warnings,
                    batch.attempts,
                    db_time(result.started),
                    db_time(result.finished),
                    index,
                )
                for index, result, block_log in eventful
            ],
        )
        insert_hook_runs(BACKUP, backup.pk, hook_rows)
        BackupLogEntry.objects.bulk_create(log_rows, batch_size=500)
        add_to_run(
            BACKUP,
            backup.pk,
            items_backed_up=len(written),
            blocks_done=len(outcomes),
            errors=log.errors,
            warnings=log.warnings,
            hooks_attempted=sum(r.hooks_attempted for _, r, _ in outcomes),
            hooks_failed=sum(r.hooks_failed for _, r, _ in outcomes),
            snapshots_attempted=sum(1 for s in snapshots if s.attempted),
            snapshots_completed=sum(1 for s in snapshots if s.ok),
        )
        following = claim_next(backup.pk, worker, job_id) if go_on else None
    progress.blocks_changed(backup.pk, [index for index, _, _ in outcomes])
    progress.backup_changed(backup.pk)
    if following is None:  # this lane stops: the job hands its place over if batches are left
        maybe_finalize(backup.pk)
    return following


def _block_state_of(result, block_log: BackupLog) -> str:
    if result.cancelled:
        return BlockRun.State.CANCELLED
    return BlockRun.State.FAILED if result.failed_block or block_log.errors else BlockRun.State.DONE


def claim_next(backup_id: int, worker: str, job_id: str, kind: RunKind = BACKUP) -> BlockBatch | None:
    """Take the next pending batch of the run for this worker (RUNNING, leased), or None."""
    with write_turn:
        return claim_pending_batch(kind, backup_id, worker, job_id, leases.lease_until())


def give_up(batch: BlockBatch, reason: str, staging: Staging) -> None:
    """After the last attempt, the batch's blocks are errors naming them, and the backup goes on."""
    backup = batch.backup
    log = BackupLog()
    first, blocks = staging.read_batch(batch.number)
    for offset, items in enumerate(blocks):
        log.error(
            f"block {first + offset} ({len(items)} items, from {items[0].key}) not backed up after "
            f"{batch.attempts} attempts: {reason}"
        )
    staging.write_log(f"batch-{batch.number:07d}", log.entries)
    staging.write_outcome(batch.number, [], {}, [])
    with write_turn, transaction.atomic():
        if not BlockBatch.objects.filter(
            pk=batch.pk, state__in=(BlockBatch.State.RUNNING, BlockBatch.State.ENQUEUED)
        ).update(state=BlockBatch.State.DONE, lease_until=None):
            return
        BlockRun.objects.filter(run_kind=BACKUP.name, run_id=backup.pk, batch=batch.number).update(
            state=BlockRun.State.FAILED, errors=1, attempts=batch.attempts
        )
        BackupLogEntry.objects.bulk_create(steps.log_rows(backup, log.entries))
        Backup.objects.filter(pk=backup.pk).update(
            blocks_done=F("blocks_done") + batch.block_count, errors=F("errors") + log.errors
        )
    progress.blocks_changed(backup.pk, list(range(batch.first_block, batch.first_block + batch.block_count)))
    progress.backup_changed(backup.pk)
    enqueue_next_batches(backup.pk, [1])
    maybe_finalize(backup.pk)


def maybe_finalize(run_id: int, kind: RunKind = BACKUP) -> None:
    """The last batch to finish moves the run to its finalize step and enqueues the finalize job
    once (unless its kind hands more batches out first: a restore's next tier); the last lane of
    a cancelled run to stop makes it Cancelled."""
    ops = kind.ops()
    if ops.cancel_finish(run_id):
        return
    batches = BlockBatch.objects.filter(run_kind=kind.name, run_id=run_id)
    if batches.exclude(state=BlockBatch.State.DONE).exists():
        return
    if ops.batches_done(run_id):
        return
    if queues.start_step(run_id, kind.in_progress, kind.finalizing, "finalize", kind=kind):
        progress.run_changed(run_id, kind.name)
