"""Planning a backup (the dispatch step): check the storage location, collect the cluster's items
and group them into blocks, written to the staging folder as batch files and BlockRun rows; then
the first batches are handed to the workers."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backups.engine import dry_run
from backups.engine.durations import expiration_at
from backups.engine.log import BackupLog
from backups.engine.planning.itemblocks import stream_item_blocks
from backups.engine.planning.resource_policies import ResourcePolicies, parse_resource_policies
from backups.engine.planning.spool import Spool
from backups.engine.running.hook_spec import parse_resource_hooks
from backups.engine.source import SourceError
from backups.live import progress
from backups.models import Backup, BackupLogEntry, BlockBatch, BlockRun
from backups.runs import batches, cancel, queues, steps, timings
from backups.runs.batch_sql import (
    insert_block_runs,
)
from backups.runs.kinds import BACKUP
from backups.runs.staging import Staging
from backups.validation import spec_of

Phase = Backup.Phase
logger = logging.getLogger(__name__)


class PlanCancelled(Exception):
    """The backup stopped being InProgress (cancelled) while its blocks were being planned."""


class CancelWatch:
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

    def __init__(self, source, watch: CancelWatch):
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


def dispatch(backup_id: int, job_id: str | None) -> None:
    """Collect, plan every block (keys and spool offsets only), record the exact totals, start batches.
    `job_id` is the dispatch job's: a stale duplicate recognises itself and does nothing."""
    if not Backup.objects.filter(pk=backup_id, phase=Phase.READY, job_id=job_id).update(
        phase=Phase.IN_PROGRESS, started=timezone.now()
    ):
        return  # a stale duplicate: the backup moved on, or another dispatch replaced this one
    try:
        _dispatch(backup_id, job_id)
    except steps.TRANSIENT:
        raise  # the watchdog dispatches again, at most steps.MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        steps.fail_unexpected(backup_id, error, "planning")


def _dispatch(backup_id: int, job_id: str | None) -> None:
    backup = Backup.objects.select_related("storage_location").get(pk=backup_id)
    problem = storage_problem(backup)
    if problem:  # before any hook freezes a pod for a backup that could never be stored
        return steps.fail(backup_id, problem, Phase.FAILED_VALIDATION)
    staging = Staging.of(backup)
    staging.reset()
    BlockBatch.objects.filter(backup=backup).delete()
    BlockRun.objects.filter(backup=backup).delete()
    BackupLogEntry.objects.filter(backup=backup).delete()
    log = BackupLog()
    stats: dict = {}
    try:
        batch_rows, total_blocks, total_items = plan(backup, staging, log, stats)
    except PlanCancelled:
        cancel.finish(backup_id, by_job=job_id)
        return
    except ValueError as error:
        return steps.fail(backup_id, str(error), Phase.FAILED_VALIDATION)
    except SourceError as error:
        return steps.fail(backup_id, f"cannot read the cluster: {error}")
    except OSError as error:
        return steps.fail(backup_id, f"cannot write the staging folder {staging.root}: {error}")
    staging.write_log("dispatch", log.entries)
    expiration = expiration_at(backup.ttl, backup.started)  # start + TTL; a zero TTL means 720h
    with transaction.atomic():  # the batches appear at once: the watchdog's sign that planning ended
        BlockBatch.objects.bulk_create(batch_rows, batch_size=500)
        BackupLogEntry.objects.bulk_create(steps.log_rows(backup, log.entries), batch_size=500)
        Backup.objects.filter(pk=backup_id).update(
            total_items=total_items,
            total_blocks=total_blocks,
            errors=log.errors,
            warnings=log.warnings,
            expiration=expiration,
        )
    planning = (timezone.now() - backup.started).total_seconds() if backup.started else 0.0
    timings.record(backup_id, planning=planning, hooked_pods=stats.get("hooked_pods", 0))
    progress.backup_changed(backup_id)
    if cancel.cancelled(backup_id):  # cancelled after the last look: no batch is claimed now
        cancel.finish(backup_id, by_job=job_id)
        return
    if not batch_rows:
        return batches.maybe_finalize(backup_id)
    lanes = queues.split_lanes(backup.workers, queues.block_worker_processes())
    batches.enqueue_next_batches(backup_id, lanes)


def storage_problem(backup: Backup) -> str:
    """Why the backup could not be uploaded, checked before it starts (Velero validates its
    location before InProgress): missing, read-only, unreachable, or holding that name already."""
    from backups.engine.storage import StorageError
    from backups.engine.velero_format.layout import metadata_key

    location = backup.storage_location
    if location is None:
        return "no storage location: add one in Settings"
    if location.read_only:
        return f"storage location {location.name} is read-only: backups cannot be written"
    problem = location.check_access()
    if problem:
        return f"storage location {location.name} is unavailable: {problem}"
    try:
        if location.store().exists(metadata_key(backup.name)):
            return f"a backup named {backup.name} already exists in storage location {location.name}"
    except (StorageError, ValueError) as error:
        return f"storage location {location.name} is unavailable: {error}"
    return ""


def plan(
    backup: Backup, staging: Staging, log: BackupLog, stats: dict | None = None
) -> tuple[list[BlockBatch], int, int]:
    """Collect the backup's items and write its plan: the resource table, the spool, the batch
    files and a BlockRun row per block; the BlockBatch rows (unsaved), total blocks and items.
    `stats` gets `hooked_pods`, the pods with hooks (the ETA's hook work)."""
    source = backup.cluster.connect()
    watch = CancelWatch(backup.pk)
    try:
        table = source.resources()
        hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), table)
        staging.write_table(table)
        with Spool(staging.spool) as spool:
            watched = _WatchedSource(source, watch)
            walk = stream_item_blocks(watched, spec_of(backup), log, spool=spool, hooks=hooks)
            planned = write_plan(backup, staging, walk, watch)
            if stats is not None:
                stats["hooked_pods"] = len(walk.c.hooked_pods)
            return planned
    finally:
        source.close()


def policies_of(backup: Backup) -> ResourcePolicies | None:
    """The backup's resource policies (validated when it was planned)."""
    return parse_resource_policies(backup.resource_policy) if backup.resource_policy.strip() else None


def takes_snapshots(backup: Backup, policies: ResourcePolicies | None) -> bool:
    """Claims are snapshotted unless snapshotVolumes is false, and then still where a volume
    policy says `snapshot` (Velero's volume helper)."""
    return dry_run.takes_snapshots(backup.snapshot_volumes, policies)


def runs_alone(walk, block, snapshots: bool) -> bool:
    """A block that waits on hooks or on CSI snapshots is a batch of its own: batched with others,
    its waits would run one after another instead of on parallel workers."""
    if walk.has_hooks(block):
        return True
    claims = (i for i in block.items if i.key.is_claim)
    return snapshots and any(claims)


def write_plan(
    backup: Backup, staging: Staging, walk, watch: CancelWatch | None = None
) -> tuple[list[BlockBatch], int, int]:
    """Stream the blocks into batch files and BlockRun rows as the walk yields them, so the
    dispatcher never holds every block of a 300,000-object cluster at once. Small blocks share
    batches of about VELOWEB_BATCH_ITEMS items; blocks that wait go alone (`runs_alone`)."""
    limit = settings.VELOWEB_BATCH_ITEMS
    snapshots = takes_snapshots(backup, policies_of(backup))
    batch_rows: list[BlockBatch] = []
    current: list = []
    first = index = total_items = current_items = 0

    def flush() -> None:
        number = len(batch_rows)
        staging.write_batch(number, first, current)
        rows = []
        for offset, block in enumerate(current):
            pods = sum(1 for i in block.items if i.key.is_pod)
            rows.append((first + offset, number, len(block), str(block.items[0].key)[:400], pods))
        insert_block_runs(BACKUP, backup.pk, rows)
        batch_rows.append(
            BlockBatch(
                backup=backup,
                run_id=backup.pk,
                number=number,
                first_block=first,
                block_count=len(current),
                item_count=current_items,
            )
        )

    for block in walk:
        if watch is not None:
            watch.look()
        alone = runs_alone(walk, block, snapshots)
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
