"""RQ entry points: dispatch a backup, run a batch of blocks, finalize. Arguments are ids only.

The database is the truth and every step is guarded by a conditional update, so a job that runs
twice (a retry, a worker that was presumed dead) changes nothing the second time, and a block's
archive member is replaced, never duplicated.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

import django_rq
import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from rq.worker import Worker as RQWorker

from backups.engine.durations import parse_duration
from backups.engine.items import ItemKey
from backups.engine.log import BackupLog, LogEntry
from backups.engine.planning.itemblocks import stream_item_blocks
from backups.engine.planning.label_selectors import label_selector_object
from backups.engine.planning.resource_policies import ResourcePolicies, parse_resource_policies
from backups.engine.planning.spool import Spool, SpoolReader
from backups.engine.running.blocks import run_block
from backups.engine.running.crds import backup_crds
from backups.engine.running.hooks import parse_resource_hooks
from backups.engine.running.snapshots import snapshot_claim
from backups.engine.source import SourceError
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
    assemble_tarball,
    resource_list,
    results_file,
    velero_backup_json,
    write_gzip_json,
    write_log_lines,
)
from backups.engine.velero_format.volume_info import skipped_summary, volume_info
from backups.live import progress
from backups.models import Backup, BackupLogEntry, BlockBatch, BlockRun
from backups.runs import cancel, liveness, owed_hooks
from backups.runs.batch_sql import (
    RESULT_COLUMNS,
    add_to_backup,
    claim_pending_batch,
    db_time,
    finish_batch,
    insert_block_runs,
    insert_hook_runs,
    live_steps,
    update_block_runs,
    write_turn,
)
from backups.runs.staging import Staging
from backups.services.backups import admit, expiration_at, spec_of, start_job

Phase = Backup.Phase
MAX_BATCH_ATTEMPTS = 3
MAX_STEP_ATTEMPTS = 3  # dispatch and finalize jobs of one backup (Backup.attempt, finalize_attempts)
# Errors that pass: a database or Redis connection lost for a moment. A step that meets one is
# retried (a bounded number of times); any other exception nobody anticipated ends the backup
# Failed with its type and message, instead of the watchdog restarting the step forever.
TRANSIENT = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
BATCH_JOB_TIMEOUT = 4 * 3600  # RQ's hard limit for one job: a batch may wait long for hooks and snapshots
SCHEDULE_NAME_LABEL = "velero.io/schedule-name"
logger = logging.getLogger(__name__)


def _rq_job(func):
    """An RQ entry point: the progress it sent reaches Redis before its work horse exits."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            progress.flush()

    return run


def _fail(backup_id: int, reason: str, phase: str = Phase.FAILED) -> None:
    """End a backup that has not ended yet as Failed (or FailedValidation), with the reason; its
    place goes to the queue at once."""
    field = "validation_errors" if phase == Phase.FAILED_VALIDATION else "failure_reason"
    value = [reason] if phase == Phase.FAILED_VALIDATION else reason
    rows = Backup.objects.filter(pk=backup_id, phase__in=Backup.RUNNING)
    if not rows.update(phase=phase, completed=timezone.now(), **{field: value}):
        return
    progress.backup_changed(backup_id)
    admit()
    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is not None:
        cancel.delete_if_requested(backup)


def _fail_unexpected(backup_id: int, error: BaseException, step: str) -> None:
    """An exception nobody anticipated: the backup ends Failed, saying which and where, in its
    failure reason and its log (the traceback goes to the worker's log)."""
    reason = f"{step} failed: {type(error).__name__}: {error}"
    logger.error("backup %s: %s", backup_id, reason, exc_info=error)
    with write_turn, transaction.atomic():
        BackupLogEntry.objects.create(backup_id=backup_id, level="error", message=reason, time=time.time())
        add_to_backup(backup_id, errors=1)
    _fail(backup_id, reason)


def _log_rows(backup: Backup, entries, block_index=None) -> list[BackupLogEntry]:
    return [
        BackupLogEntry(
            backup=backup,
            level=e.level,
            message=e.message,
            resource=e.resource,
            namespace=e.namespace,
            name=e.name,
            time=e.time,
            block_index=block_index,
        )
        for e in entries
        if e.level in ("warning", "error")
    ]


class PlanCancelled(Exception):
    """The backup stopped being InProgress (cancelled) while its blocks were being planned."""


class _CancelWatch:
    """Looks, about once a second of planning, whether the backup was cancelled meanwhile (a
    300,000-object cluster is listed for half a minute): then planning stops with PlanCancelled."""

    def __init__(self, backup_id: int):
        self.backup_id = backup_id
        self.next_look = time.monotonic() + 1.0

    def look(self) -> None:
        if time.monotonic() >= self.next_look:
            if cancel.cancelled(self.backup_id):
                raise PlanCancelled()
            self.next_look = time.monotonic() + 1.0


class _WatchedSource:
    """The cluster as planning reads it, with a look for a cancel between listed objects."""

    def __init__(self, source, watch: _CancelWatch):
        self._source, self._watch = source, watch

    def __getattr__(self, name):
        return getattr(self._source, name)

    def list(self, *args, **kwargs):
        objects = self._source.list(*args, **kwargs)
        try:
            for obj in objects:
                self._watch.look()
                yield obj
        finally:
            close = getattr(objects, "close", None)
            if close is not None:
                close()


@_rq_job
def dispatch_backup(backup_id: int) -> None:
    """Collect, plan every block (keys and spool offsets only), record the exact totals, start batches."""
    job_id = _current_job_id()
    if not Backup.objects.filter(pk=backup_id, phase=Phase.READY, job_id=job_id).update(
        phase=Phase.IN_PROGRESS, started=timezone.now()
    ):
        return  # a stale duplicate: the backup moved on, or another dispatch replaced this one
    try:
        _dispatch(backup_id, job_id)
    except TRANSIENT:
        raise  # the watchdog dispatches again, at most MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        _fail_unexpected(backup_id, error, "planning")


def _dispatch(backup_id: int, job_id: str | None) -> None:
    backup = Backup.objects.select_related("storage_location").get(pk=backup_id)
    problem = _storage_problem(backup)
    if problem:  # before any hook freezes a pod for a backup that could never be stored
        return _fail(backup_id, problem, Phase.FAILED_VALIDATION)
    staging = Staging.of(backup)
    staging.reset()
    BlockBatch.objects.filter(backup=backup).delete()
    BlockRun.objects.filter(backup=backup).delete()
    BackupLogEntry.objects.filter(backup=backup).delete()
    log = BackupLog()
    try:
        batch_rows, total_blocks, total_items = _plan(backup, staging, log)
    except PlanCancelled:
        cancel.finish(backup_id, by_job=job_id)
        return
    except ValueError as error:
        return _fail(backup_id, str(error), Phase.FAILED_VALIDATION)
    except SourceError as error:
        return _fail(backup_id, f"cannot read the cluster: {error}")
    except OSError as error:
        return _fail(backup_id, f"cannot write the staging folder {staging.root}: {error}")
    staging.write_log("dispatch", log.entries)
    expiration = expiration_at(backup.ttl, backup.started)  # start + TTL; a zero TTL means 720h
    with transaction.atomic():  # the batches appear at once: the watchdog's sign that planning ended
        BlockBatch.objects.bulk_create(batch_rows, batch_size=500)
        BackupLogEntry.objects.bulk_create(_log_rows(backup, log.entries), batch_size=500)
        Backup.objects.filter(pk=backup_id).update(
            total_items=total_items,
            total_blocks=total_blocks,
            errors=log.errors,
            warnings=log.warnings,
            expiration=expiration,
        )
    progress.backup_changed(backup_id)
    if cancel.cancelled(backup_id):  # cancelled after the last look: no batch is claimed now
        cancel.finish(backup_id, by_job=job_id)
        return
    if not batch_rows:
        return _maybe_finalize(backup_id)
    enqueue_next_batches(backup_id, split_lanes(backup.workers, _block_worker_processes()))


def _storage_problem(backup: Backup) -> str:
    """Why the backup could not be uploaded, checked before it starts (Velero validates its
    location before InProgress): missing, read-only, unreachable, or holding that name already."""
    from backups.engine.storage import StorageError
    from backups.engine.velero_format.layout import metadata_key
    from backups.services.locations import check_access

    location = backup.storage_location
    if location is None:
        return "no storage location: add one in Settings"
    if location.read_only:
        return f"storage location {location.name} is read-only: backups cannot be written"
    problem = check_access(location)
    if problem:
        return f"storage location {location.name} is unavailable: {problem}"
    try:
        if location.store().exists(metadata_key(backup.name)):
            return f"a backup named {backup.name} already exists in storage location {location.name}"
    except (StorageError, ValueError) as error:
        return f"storage location {location.name} is unavailable: {error}"
    return ""


def _plan(backup: Backup, staging: Staging, log: BackupLog) -> tuple[list[BlockBatch], int, int]:
    """Collect the backup's items and write its plan: the resource table, the spool, the batch
    files and a BlockRun row per block; the BlockBatch rows (unsaved), total blocks and items."""
    source = backup.cluster.connect()
    watch = _CancelWatch(backup.pk)
    try:
        table = source.resources()
        hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), table)
        staging.write_table(table)
        with Spool(staging.spool) as spool:
            watched = _WatchedSource(source, watch)
            walk = stream_item_blocks(watched, spec_of(backup), log, spool=spool, hooks=hooks)
            return _write_plan(backup, staging, walk, watch)
    finally:
        source.close()


def _policies(backup: Backup) -> ResourcePolicies | None:
    """The backup's resource policies (validated when it was planned)."""
    return parse_resource_policies(backup.resource_policy) if backup.resource_policy.strip() else None


def _takes_snapshots(backup: Backup, policies: ResourcePolicies | None) -> bool:
    """Claims are snapshotted unless snapshotVolumes is false, and then still where a volume
    policy says `snapshot` (Velero's volume helper)."""
    return backup.snapshot_volumes is not False or bool(policies and policies.volume_policies)


def _runs_alone(walk, block, snapshots: bool) -> bool:
    """A block that waits on hooks or on CSI snapshots is a batch of its own: batched with others,
    its waits would run one after another instead of on parallel workers."""
    if walk.has_hooks(block):
        return True
    claims = (i for i in block.items if i.key.resource == "persistentvolumeclaims" and not i.key.group)
    return snapshots and any(claims)


def _write_plan(
    backup: Backup, staging: Staging, walk, watch: _CancelWatch | None = None
) -> tuple[list[BlockBatch], int, int]:
    """Stream the blocks into batch files and BlockRun rows as the walk yields them, so the
    dispatcher never holds every block of a 300,000-object cluster at once. Small blocks share
    batches of about VELOWEB_BATCH_ITEMS items; blocks that wait go alone (`_runs_alone`)."""
    limit = settings.VELOWEB_BATCH_ITEMS
    snapshots = _takes_snapshots(backup, _policies(backup))
    batch_rows: list[BlockBatch] = []
    current: list = []
    first = index = total_items = current_items = 0

    def flush() -> None:
        number = len(batch_rows)
        staging.write_batch(number, first, current)
        rows = []
        for offset, block in enumerate(current):
            pods = sum(1 for i in block.items if i.key.resource == "pods" and not i.key.group)
            rows.append((backup.pk, first + offset, number, len(block), str(block.items[0].key)[:400], pods))
        insert_block_runs(rows)
        batch_rows.append(
            BlockBatch(
                backup=backup,
                number=number,
                first_block=first,
                block_count=len(current),
                item_count=current_items,
            )
        )

    for block in walk:
        if watch is not None:
            watch.look()
        alone = _runs_alone(walk, block, snapshots)
        if current and (alone or current_items + len(block) > limit):
            flush()
            first, current, current_items = index, [], 0
        current.append(block)
        current_items += len(block)
        index += 1
        total_items += len(block)
        if alone:
            flush()
            first, current, current_items = index, [], 0
    if current:
        flush()
    return batch_rows, index, total_items


def enqueue_next_batches(backup_id: int, jobs: list[int]) -> int:
    """Hand the next pending batches to RQ, one job per entry of `jobs` (its lanes), in one
    pipeline; returns how many jobs. Callers pass the places that came free, so a backup never
    has more than `workers` batches in flight."""
    handed: list[tuple[int, str, int]] = []
    pending = BlockBatch.objects.filter(backup_id=backup_id, state=BlockBatch.State.PENDING)
    for pk, number, attempts in pending.values_list("pk", "number", "attempts")[: len(jobs) + 4]:
        job_id = f"batch-{backup_id}-{number}-{attempts}"
        if BlockBatch.objects.filter(pk=pk, state=BlockBatch.State.PENDING).update(
            state=BlockBatch.State.ENQUEUED, job_id=job_id
        ):
            handed.append((number, job_id, jobs[len(handed)]))
            if len(handed) == len(jobs):
                break
    if handed:
        queue = django_rq.get_queue("blocks")
        queue.enqueue_many([_batch_job(queue, backup_id, *job) for job in handed])
    return len(handed)


def split_lanes(workers: int, processes: int) -> list[int]:
    """A backup's `workers` as lanes of at most `processes` jobs, as even as can be (16 over 2
    processes: [8, 8]; 5 over 2: [3, 2]; 2 over 4: [1, 1]): CPU-bound blocks use every process,
    latency-bound ones as many threads as the backup asks for."""
    workers = max(1, workers)
    jobs = max(1, min(workers, processes))
    return [workers // jobs + (1 if i < workers % jobs else 0) for i in range(jobs)]


def _block_worker_processes() -> int:
    queue = django_rq.get_queue("blocks")
    return RQWorker.count(connection=queue.connection, queue=queue)


def enqueue_batch_job(backup_id: int, number: int, job_id: str) -> None:
    queue = django_rq.get_queue("blocks")
    queue.enqueue_many([_batch_job(queue, backup_id, number, job_id)])


def _batch_job(queue, backup_id: int, number: int, job_id: str, lanes: int = 1):
    args = (backup_id, number, lanes)
    return queue.prepare_data(run_batch, args, job_id=job_id, timeout=BATCH_JOB_TIMEOUT)


def _lease() -> datetime:
    return timezone.now() + timedelta(seconds=settings.VELOWEB_BATCH_LEASE_SECONDS)


class LeaseHeartbeat:
    """Renews the leases of the batches a job's lanes are running, from one thread, so a long
    hook or snapshot wait is not taken for a dead worker; a killed worker stops renewing and its
    batches are handed out again. A second thread tells Redis every second that the job lives
    (`backups.runs.liveness`), so a dead job's owed post-hooks run within seconds, not after a lease."""

    def __init__(self, backup_id: int, workers: list[str], job_id: str = ""):
        self.backup_id, self.workers, self.job_id = backup_id, workers, job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{backup_id}", daemon=True)
        self._thread.start()
        self._beats = threading.Thread(target=self._beat, name=f"alive-{backup_id}", daemon=True)
        self._beats.start()

    def _beat(self) -> None:
        """Apart from the lease renewal, which may wait for the database."""
        while not self._stop.wait(liveness.ALIVE_EVERY):
            try:
                liveness.beat(self.job_id)
            except Exception:  # noqa: BLE001 - Redis away: the lease still says the job lives
                logger.warning("could not tell Redis job %s is alive", self.job_id, exc_info=True)

    def _run(self) -> None:
        interval = max(0.2, settings.VELOWEB_BATCH_LEASE_SECONDS / 3)
        running = BlockBatch.objects.filter(
            backup_id=self.backup_id, state=BlockBatch.State.RUNNING, worker__in=self.workers
        )
        try:
            while not self._stop.wait(interval):
                try:
                    with write_turn:
                        running.update(lease_until=_lease())
                except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease has slack
                    logger.warning("could not renew leases of backup %s", self.backup_id, exc_info=True)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._beats.join()


class _Session:
    """What every batch of one backup needs, set up once per job: a job runs batch after batch."""

    def __init__(self, backup: Backup, staging: Staging):
        self.source = backup.cluster.connect()
        self.table = staging.read_table()
        self.hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), self.table)
        policies = _policies(backup)
        snapshots = _takes_snapshots(backup, policies)
        self.snapshot = _snapshotter(backup, self.source, self.table, policies) if snapshots else None
        self.job_id = ""

    def close(self) -> None:
        self.source.close()


@_rq_job
def run_batch(backup_id: int, number: int, lanes: int = 1) -> None:
    """Back up batch `number` of the backup, then go on with its next pending batches in the same
    job (each claimed in the transaction that records the one before), so a backup of many small
    batches costs a few jobs, not one fork, database connection and cluster client per batch.

    `lanes` is how many batches the job runs at once, on as many threads sharing one cluster
    client: a backup's workers are lanes spread over the RQ worker processes there are, so 16
    workers run 16 blocks at a time on a 2-process machine, and a thread waiting for a hook costs
    no fork and no memory of its own.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    job_id = _current_job_id() or ""
    liveness.beat(job_id)  # before the claim: a batch of this job is never seen without it
    if not _claim(backup_id, number, worker, job_id):
        return  # a stale duplicate: the batch is done, or running elsewhere
    names = [worker] + [f"{worker}/{i}" for i in range(1, max(1, lanes))]
    heartbeat = LeaseHeartbeat(backup_id, names, job_id)
    try:
        _run_lanes(backup_id, number, names)
    finally:
        heartbeat.stop()


def _run_lanes(backup_id: int, number: int, names: list[str]) -> None:
    """Run the job's lanes: the first on this thread from batch `number`, the others on threads
    of their own from the next pending batches, each going on until none is left."""
    first = BlockBatch.objects.select_related("backup__cluster").get(backup_id=backup_id, number=number)
    staging = Staging.of(first.backup)
    try:
        session = _Session(first.backup, staging)
    except (SourceError, ValueError, OSError, *TRANSIENT) as error:
        if first.attempts < MAX_BATCH_ATTEMPTS:
            _release(first, names[0])
            raise  # the watchdog hands the batch out again
        return _give_up(first, f"{error}", staging)
    except Exception as error:
        _release(first, names[0])
        return _fail_unexpected(backup_id, error, f"batch {number}")
    backup = first.backup
    session.job_id = _current_job_id() or ""
    deadline = time.monotonic() + settings.VELOWEB_BATCH_JOB_SECONDS
    handed_over: list[str] = []  # lanes that stopped at the deadline with batches left

    def lane(batch: BlockBatch | None, name: str) -> None:
        batch = batch or _claim_next(backup_id, name, session.job_id)
        while batch is not None:
            batch.backup = backup  # one read of the backup serves every batch of the job
            try:
                batch = _run_claimed(batch, name, staging, session, time.monotonic() < deadline)
            except Exception:
                _release(batch, name)  # the heartbeat would otherwise renew it while the job lasts
                raise
        if time.monotonic() >= deadline:
            handed_over.append(name)

    def extra_lane(name: str) -> None:
        try:
            lane(None, name)
        except Exception:  # noqa: BLE001 - its batch was released for the watchdog to hand out again
            logger.exception("lane %s of backup %s stopped", name, backup_id)
        finally:
            connection.close()  # each thread has its own database connection

    threads = [
        threading.Thread(target=extra_lane, args=(name,), name=f"lane-{name}", daemon=True)
        for name in names[1:]
    ]
    try:
        for thread in threads:
            thread.start()
        lane(first, names[0])
    finally:
        for thread in threads:
            thread.join()
        session.close()
    if handed_over:  # a fresh job takes over the places, with as many lanes
        enqueue_next_batches(backup_id, [len(handed_over)])


def _claim(backup_id: int, number: int, worker: str, job_id: str = "") -> bool:
    """Take batch `number` for `worker` of job `job_id`: enqueued or pending, or running with a
    lapsed lease. The job is recorded: the watchdog hands out again the batches of a dead job."""
    now = timezone.now()
    claimable = BlockBatch.objects.filter(backup_id=backup_id, number=number, backup__phase=Phase.IN_PROGRESS)
    taken = dict(attempts=F("attempts") + 1, lease_until=_lease(), worker=worker, job_id=job_id)
    return bool(
        claimable.filter(state__in=(BlockBatch.State.ENQUEUED, BlockBatch.State.PENDING)).update(
            state=BlockBatch.State.RUNNING, **taken
        )
        or claimable.filter(state=BlockBatch.State.RUNNING, lease_until__lt=now).update(**taken)
    )


def _run_claimed(batch: BlockBatch, worker: str, staging: Staging, session: _Session, go_on: bool):
    """Run one claimed batch; the next batch this lane claimed, or None."""
    backup = batch.backup
    backup_id, number = backup.pk, batch.number
    source = session.source
    if batch.attempts > 1:  # a redo: thaw first what the attempt that died left frozen
        owed_hooks.rescue_batch(backup_id, number, by=f"worker {worker}")
    log = BackupLog()
    outcomes = []
    first_block, blocks = 0, []
    try:
        first_block, blocks = staging.read_batch(number)
        snapshot = session.snapshot
        # one archive member per batch: a retried batch replaces it whole, and files stay few
        with SpoolReader(staging.spool) as spool, BlockArchiveWriter(staging.member(number)) as writer:
            for offset, items in enumerate(blocks):
                index = first_block + offset
                locations = {item.key: (item.offset, item.length) for item in items}

                def read(key, info, locations=locations):
                    where = locations.get(key)
                    if where and where[0] >= 0:
                        return spool.get_raw(*where)
                    return source.get(info, key.namespace or None, key.name)

                block_log = BackupLog()
                live = any(
                    i.key.resource in ("pods", "persistentvolumeclaims") and not i.key.group for i in items
                )
                result = run_block(
                    [item.key for item in items],
                    source=source,
                    table=session.table,
                    spec_hooks=session.hooks,
                    executor=source.exec,
                    writer=writer,
                    log=block_log,
                    read=read,
                    snapshot=snapshot and (lambda pvc, log=block_log: snapshot(pvc, log)),
                    on_phase=(lambda state, index=index: _block_state(backup_id, index, state))
                    if live
                    else None,
                    backup_name=backup.name,
                    cancelled=lambda: cancel.cancelled(backup_id),
                    owe_post_hooks=lambda pods, index=index: owed_hooks.owe(
                        backup_id, index, number, session.job_id, worker, pods
                    ),
                    post_hooks_ran=lambda index=index: owed_hooks.settle(backup_id, index, session.job_id),
                )
                outcomes.append((index, result, block_log))
                log.entries.extend(block_log.entries)
    except (SourceError, ValueError, OSError, *TRANSIENT) as error:
        if batch.attempts < MAX_BATCH_ATTEMPTS:
            raise  # released by the lane: the watchdog hands the batch out again
        _give_up(batch, f"{error}", staging)
        return None
    except Exception as error:  # a bug or an object nobody anticipated: retrying would meet it again
        _release(batch, worker)
        where = f"block {first_block + len(outcomes)}" if blocks else f"batch {number}"
        _fail_unexpected(backup_id, error, where)
        return None
    return _complete(batch, worker, outcomes, log, staging, go_on=go_on, job_id=session.job_id)


def _release(batch: BlockBatch, worker: str) -> None:
    """Give a batch that failed back: its lease lapses now and no heartbeat renews it."""
    with write_turn:
        BlockBatch.objects.filter(pk=batch.pk, state=BlockBatch.State.RUNNING, worker=worker).update(
            lease_until=timezone.now(), worker=""
        )


def _block_state(backup_id: int, index: int, state: str) -> None:
    """A block with hooks or claims shows each step live; plain blocks only their outcome."""
    live_steps.note(backup_id, index, state)


def _snapshotter(backup: Backup, source, table, policies: ResourcePolicies | None):
    """CSI snapshots for the batch's claims, as the volume policies and snapshotVolumes decide;
    the snapshot classes are listed once per batch."""
    timeout = parse_duration(backup.csi_snapshot_timeout)
    classes: list = []

    def take(pvc: dict, log: BackupLog):
        if not classes:
            info = table.by_group_resource("volumesnapshotclasses.snapshot.storage.k8s.io")
            classes.append(list(source.list(info)) if info else [])
        return snapshot_claim(
            pvc,
            source=source,
            table=table,
            backup_name=backup.name,
            log=log,
            timeout=timeout,
            snapshot_classes=classes[0],
            policies=policies,
            snapshot_volumes=backup.snapshot_volumes is not False,
        )

    return take


def _outcome_file(staging: Staging, number: int):
    """What a finished batch leaves for finalize: its items written (key, kind, added by the
    block itself), the VolumeSnapshotClasses its snapshots used and their volume info entries."""
    return staging.root / "batches" / f"{number:07d}.outcome.json"


def _write_outcome(staging: Staging, number: int, written: list, classes: dict, infos: list) -> None:
    outcome = {"written": written, "snapshot_classes": classes, "volume_infos": infos}
    _outcome_file(staging, number).write_text(json.dumps(outcome, separators=(",", ":")))


def _snapshot_classes_member(staging: Staging, classes: dict, written: list) -> str | None:
    """The VolumeSnapshotClasses used by any block, written once for the whole backup."""
    if not classes:
        return None
    already = {key for key, _ in written}
    missing = {}
    for name, obj in sorted(classes.items()):
        version = obj["apiVersion"].split("/")[-1]
        key = ItemKey("snapshot.storage.k8s.io", version, "volumesnapshotclasses", "", name)
        if key not in already:  # a full backup collects the classes like any cluster-scoped item
            missing[key] = obj
    if not missing:
        return None
    path = str(staging.root / "members" / "snapshot-classes.tar.gz-member")
    with BlockArchiveWriter(path) as writer:
        for key, obj in missing.items():
            writer.add_item(key, obj)
            written.append((key, "VolumeSnapshotClass"))
    return path


def _crds_member(backup: Backup, staging: Staging, types: set, written: list, log: BackupLog) -> str | None:
    """The CRDs of the custom resources backed up, as Velero adds them after every block."""
    if not types or backup.cluster is None:
        return None
    try:
        source = backup.cluster.connect()
    except (SourceError, ValueError, OSError) as error:
        log.error(f"CRDs of the backed-up custom resources not added: cannot read the cluster: {error}")
        return None
    path = os.path.join(staging.members, "crds.tar.gz-member")
    try:
        with BlockArchiveWriter(path) as writer:
            crds = backup_crds(
                source, staging.read_table(), spec_of(backup), types, [k for k, _ in written], writer, log
            )
            if not crds:
                writer.abort()
                return None
    finally:
        source.close()
    written.extend(crds)
    return path


def _complete(
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
    _write_outcome(staging, batch.number, written, classes, infos)
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
            log_rows += _log_rows(backup, block_log.entries, index)
            hook_rows += [(index, hook) for hook in result.hook_results]
        # most blocks are one object that went fine: one UPDATE for all of them
        if plain:
            first = min(r.started for i, r, _ in outcomes)
            last = max(r.finished for i, r, _ in outcomes)
            for chunk in range(0, len(plain), 500):
                BlockRun.objects.filter(backup=backup, index__in=plain[chunk : chunk + 500]).update(
                    state=BlockRun.State.DONE,
                    items_written=F("item_count"),
                    items_skipped=0,
                    errors=0,
                    warnings=0,
                    attempts=batch.attempts,
                    started=datetime.fromtimestamp(first, tz=UTC),
                    finished=datetime.fromtimestamp(last, tz=UTC),
                )
        update_block_runs(
            backup.pk,
            RESULT_COLUMNS,
            [
                (
                    _block_state_of(result, block_log),
                    len(result.written),
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
        insert_hook_runs(backup.pk, hook_rows)
        BackupLogEntry.objects.bulk_create(log_rows, batch_size=500)
        add_to_backup(
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
        following = _claim_next(backup.pk, worker, job_id) if go_on else None
    progress.blocks_changed(backup.pk, [index for index, _, _ in outcomes])
    progress.backup_changed(backup.pk)
    if following is None:  # this lane stops: run_batch hands its place over if batches are left
        _maybe_finalize(backup.pk)
    return following


def _block_state_of(result, block_log: BackupLog) -> str:
    if result.cancelled:
        return BlockRun.State.CANCELLED
    return BlockRun.State.FAILED if result.failed_block or block_log.errors else BlockRun.State.DONE


def _claim_next(backup_id: int, worker: str, job_id: str) -> BlockBatch | None:
    """Take the next pending batch of the backup for this worker (RUNNING, leased), or None."""
    with write_turn:
        return claim_pending_batch(backup_id, worker, job_id, _lease())


def _give_up(batch: BlockBatch, reason: str, staging: Staging) -> None:
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
    _write_outcome(staging, batch.number, [], {}, [])
    with write_turn, transaction.atomic():
        if not BlockBatch.objects.filter(
            pk=batch.pk, state__in=(BlockBatch.State.RUNNING, BlockBatch.State.ENQUEUED)
        ).update(state=BlockBatch.State.DONE, lease_until=None):
            return
        BlockRun.objects.filter(backup=backup, batch=batch.number).update(
            state=BlockRun.State.FAILED, errors=1, attempts=batch.attempts
        )
        BackupLogEntry.objects.bulk_create(_log_rows(backup, log.entries))
        Backup.objects.filter(pk=backup.pk).update(
            blocks_done=F("blocks_done") + batch.block_count, errors=F("errors") + log.errors
        )
    progress.blocks_changed(backup.pk, list(range(batch.first_block, batch.first_block + batch.block_count)))
    progress.backup_changed(backup.pk)
    enqueue_next_batches(backup.pk, [1])
    _maybe_finalize(backup.pk)


def _maybe_finalize(backup_id: int) -> None:
    """The last batch to finish moves the backup to Finalizing and enqueues the finalize job once;
    the last lane of a cancelled backup to stop makes it Cancelled."""
    if cancel.finish(backup_id):
        return
    if BlockBatch.objects.filter(backup_id=backup_id).exclude(state=BlockBatch.State.DONE).exists():
        return
    if start_job(backup_id, Phase.IN_PROGRESS, Phase.FINALIZING, "finalize"):
        progress.backup_changed(backup_id)


def _current_job_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job else None


def _read_log_entries(staging: Staging):
    for path in staging.log_files():
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield LogEntry(**json.loads(line))


def _record_late(backup: Backup, log: BackupLog) -> None:
    """Warnings and errors found while finalizing count like the blocks' own."""
    if log.errors or log.warnings:
        BackupLogEntry.objects.bulk_create(_log_rows(backup, log.entries))
        Backup.objects.filter(pk=backup.pk).update(
            errors=F("errors") + log.errors, warnings=F("warnings") + log.warnings
        )


@_rq_job
def finalize_backup(backup_id: int) -> None:
    """Assemble the tarball from the block members, write Velero's files and upload them.
    Cancellable until the upload starts (`Backup.upload_started`), then it goes to the end."""
    job_id = _current_job_id()
    backup = Backup.objects.select_related("storage_location").get(pk=backup_id)
    if backup.phase == Phase.CANCELLING and backup.job_id == job_id:
        cancel.finish(backup_id, by_job=job_id)  # cancelled before this job started
        return
    if backup.phase != Phase.FINALIZING or backup.job_id != job_id:
        return  # a stale duplicate
    try:
        _finalize(backup, job_id)
    except TRANSIENT:
        raise  # the watchdog finalizes again, at most MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        _fail_unexpected(backup_id, error, "finalizing")


def _finalize(backup: Backup, job_id: str | None) -> None:
    from backups.engine.storage import StorageError, upload_backup

    backup_id = backup.pk

    staging = Staging.of(backup)
    out = tempfile.mkdtemp(prefix="out-", dir=staging.root)
    name = backup.name
    files = {
        kind: os.path.join(out, f"{name}{suffix}")
        for kind, suffix in (
            ("tarball", ".tar.gz"),
            ("log", "-logs.gz"),
            ("results", "-results.gz"),
            ("resource-list", "-resource-list.json.gz"),
            ("volume-info", "-volumeinfo.json.gz"),
            ("metadata", "-velero-backup.json"),
        )
    }
    batches = BlockBatch.objects.filter(backup=backup).count()
    members = [staging.member(n) for n in range(batches)]
    missing = [m for m in members if not os.path.exists(m)]
    entries = list(_read_log_entries(staging))
    written, classes, infos = [], {}, []
    types = set()  # resource types with a block item backed up
    # JSON gives each row its own copies of group, version, resource, namespace and kind: shared,
    # 300,000 written items take half the memory
    strings: dict[str, str] = {}
    shared = strings.setdefault
    for number in range(batches):
        path = _outcome_file(staging, number)
        if os.path.exists(members[number]) and path.exists():
            outcome = json.loads(path.read_text())
            for row in outcome["written"]:
                group, version, resource, namespace, item, kind = row[:6]
                key = ItemKey(
                    shared(group, group), shared(version, version), shared(resource, resource),
                    shared(namespace, namespace), item,
                )  # fmt: skip
                written.append((key, shared(kind, kind)))
                if not row[6]:
                    types.add(key.group_resource)
            classes.update(outcome["snapshot_classes"])
            infos += outcome["volume_infos"]
    late = BackupLog()
    infos.sort(key=lambda info: not info.get("skipped"))  # Velero lists the skipped volumes first
    if any(info.get("skipped") for info in infos):
        late.info(f"Summary for skipped PVs: {json.dumps(skipped_summary(infos), separators=(',', ':'))}")
    for path in missing:  # lost from the staging folder (not shared with a worker, or deleted): say so
        late.error(
            f"the archive of {os.path.basename(path)} is missing from {staging.members}; "
            "its blocks are not in the backup"
        )
    try:
        extra = [_snapshot_classes_member(staging, classes, written)]
        extra.append(_crds_member(backup, staging, types, written, late))
    except OSError as error:
        _record_late(backup, late)
        return _fail(backup_id, f"cannot assemble the backup in {staging.root}: {error}")
    _record_late(backup, late)
    entries += late.entries
    try:
        members = [m for m in members if m not in missing] + [m for m in extra if m]
        size = assemble_tarball(members, files["tarball"])
        write_gzip_json(files["resource-list"], resource_list(written))
        write_gzip_json(files["volume-info"], infos)
        write_gzip_json(files["results"], results_file(entries))
        write_log_lines(files["log"], entries)
    except OSError as error:
        return _fail(backup_id, f"cannot assemble the backup in {staging.root}: {error}")
    backup.refresh_from_db()
    phase = Phase.PARTIALLY_FAILED if backup.errors else Phase.COMPLETED
    completed = timezone.now()
    metadata = velero_backup_json(
        name,
        storage_location=backup.storage_location.name if backup.storage_location else "default",
        included_namespaces=backup.included_namespaces,
        excluded_namespaces=backup.excluded_namespaces,
        included_resources=backup.included_resources,
        excluded_resources=backup.excluded_resources,
        include_cluster_resources=backup.include_cluster_resources,
        label_selector=label_selector_object(backup.label_selector),
        or_label_selectors=[label_selector_object(s) for s in backup.or_label_selectors],
        included_cluster_scoped_resources=backup.included_cluster_scoped_resources,
        excluded_cluster_scoped_resources=backup.excluded_cluster_scoped_resources,
        included_namespace_scoped_resources=backup.included_namespace_scoped_resources,
        excluded_namespace_scoped_resources=backup.excluded_namespace_scoped_resources,
        resource_policy=backup.resource_policy or None,
        ordered_resources={k: ",".join(v) for k, v in (backup.ordered_resources or {}).items()},
        ttl=backup.ttl,
        hooks=backup.hooks or {},
        volume_group_snapshot_label_key=backup.volume_group_label_key,
        csi_snapshot_timeout=backup.csi_snapshot_timeout,
        phase=phase,
        start=backup.started,
        completion=completed,
        expiration=backup.expiration,
        errors=backup.errors,
        warnings=backup.warnings,
        total_items=len(written),
        items_backed_up=len(written),
        hooks_attempted=backup.hooks_attempted,
        hooks_failed=backup.hooks_failed,
        csi_snapshots_attempted=backup.snapshots_attempted,
        csi_snapshots_completed=backup.snapshots_completed,
        labels={SCHEDULE_NAME_LABEL: backup.schedule_name} if backup.schedule_name else None,
    )
    with open(files["metadata"], "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2)
    # the point of no return: from here on a cancel is refused ("too late: uploading")
    if not Backup.objects.filter(pk=backup_id, phase=Phase.FINALIZING).update(upload_started=timezone.now()):
        cancel.finish(backup_id, by_job=job_id)
        return
    location = backup.storage_location
    try:
        warnings = upload_backup(location.store(), name, files, prefix="")
    except StorageError as error:
        staging.remove()
        return _fail(backup_id, f"upload to storage location {location.name} failed: {error}")
    Backup.objects.filter(pk=backup_id, phase=Phase.FINALIZING).update(
        phase=phase,
        completed=completed,
        size_bytes=size,
        warnings=F("warnings") + len(warnings),
        # Velero's final patch: snapshots and their contents join the items backed up
        total_items=len(written),
        items_backed_up=len(written),
    )
    staging.remove()
    progress.backup_changed(backup_id)
    admit()
    cancel.delete_if_requested(backup)


def wait_for(backup_id: int, timeout: float, tick=None, poll: float = 0.5) -> Backup:
    """Poll until the backup is terminal (running `tick`, e.g. the watchdog, between polls)."""
    deadline = time.monotonic() + timeout
    while True:
        backup = Backup.objects.get(pk=backup_id)
        if backup.is_terminal or time.monotonic() > deadline:
            return backup
        if tick:
            tick()
        time.sleep(poll)
