"""Post-hooks a running block owes its pods, and running them for a worker that died.

A block's pre-hooks may freeze a database; its post-hooks thaw it. A worker killed in between
used to leave the pod frozen until the batch lease ran out and another worker redid the block
(74 s with the default lease). Now the block records, as each pod's pre-hooks pass, which pods'
post-hooks it owes (`OwedPostHooks`), and deletes the record once they ran. When the job behind a
record is dead (`backups.runs.liveness`), the watchdog runs those post-hooks within seconds and hands
the job's batches out again; a worker that takes such a batch over runs what is still owed before
it redoes the block. Post-hooks run this way are HookRuns like any other, with a warning in the
backup's log saying on whose behalf they ran.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backups.engine.log import BackupLog
from backups.engine.running.hook_runner import pods_at_once, run_block_hooks
from backups.engine.running.hook_spec import POST, parse_resource_hooks
from backups.live import progress
from backups.models import Backup, BackupLogEntry, OwedPostHooks
from backups.runs import steps
from backups.runs.batch_sql import add_to_run, insert_hook_runs, write_turn
from backups.runs.kinds import BACKUP
from backups.runs.staging import Staging

logger = logging.getLogger(__name__)
RECLAIM_AFTER = timedelta(minutes=5)  # a rescuer that took a record on and vanished


def owe(backup_id: int, block_index: int, batch: int, job_id: str, worker: str, pods: list[dict]) -> None:
    """Record the post-hooks block `block_index` owes `pods` (all of them so far)."""
    fields = dict(batch=batch, job_id=job_id, worker=worker, pods=pods, claimed=None)
    with write_turn:
        try:
            with transaction.atomic():
                OwedPostHooks.objects.create(
                    backup_id=backup_id,
                    run_id=backup_id,
                    block_index=block_index,
                    created=timezone.now(),
                    **fields,
                )
        except IntegrityError:  # a second pod of the block, or a record left by a dead attempt
            OwedPostHooks.objects.filter(backup_id=backup_id, block_index=block_index).update(**fields)


def settle(backup_id: int, block_index: int, job_id: str) -> None:
    """The block's post-hooks ran: nothing is owed."""
    with write_turn:
        OwedPostHooks.objects.filter(backup_id=backup_id, block_index=block_index, job_id=job_id).delete()


def _claim(row: OwedPostHooks) -> bool:
    """Take the record on, unless another rescuer did (and is not long gone)."""
    now = timezone.now()
    free = Q(claimed__isnull=True) | Q(claimed__lt=now - RECLAIM_AFTER)
    with write_turn:
        return bool(OwedPostHooks.objects.filter(free, pk=row.pk, job_id=row.job_id).update(claimed=now))


def rescue(row: OwedPostHooks, by: str) -> bool:
    """Run the post-hooks `row` owes on behalf of its dead job; False when another rescuer has it."""
    if not _claim(row):
        return False
    backup = Backup.objects.select_related("cluster").get(pk=row.backup_id)
    staging = Staging.of(backup)
    log = BackupLog()
    log.warning(
        f"post-hooks of block {row.block_index} run by {by} on behalf of worker {row.worker} "
        f"(job {row.job_id}), which died after the block's pre-hooks"
    )
    try:
        try:
            table = staging.read_table()
        except OSError:
            table = None  # the staging folder is gone (a cancelled backup): hook names resolve without it
        spec_hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), table)
        source = backup.cluster.connect()
        try:
            at_once = pods_at_once(backup.hooks_concurrency)
            outcome = run_block_hooks(row.pods, POST, spec_hooks, source.exec, log, concurrency=at_once)
        finally:
            source.close()
    except Exception:
        with write_turn:  # let the next tick, or the worker redoing the block, try again
            OwedPostHooks.objects.filter(pk=row.pk).update(claimed=None)
        raise
    with write_turn, transaction.atomic():
        OwedPostHooks.objects.filter(pk=row.pk).delete()
        insert_hook_runs(BACKUP, backup.pk, [(row.block_index, hook) for hook in outcome.results])
        BackupLogEntry.objects.bulk_create(steps.log_rows(backup, log.entries, row.block_index))
        add_to_run(
            BACKUP,
            backup.pk,
            hooks_attempted=outcome.attempted,
            hooks_failed=outcome.failed,
            warnings=log.warnings,
            errors=log.errors,
        )
    try:  # into the backup's log file too; a batch's own log is rewritten when it is redone
        staging.write_log(f"batch-{row.batch:07d}-post-hooks-{row.pk}", log.entries)
    except OSError:
        pass
    logger.warning(
        "backup %s: post-hooks of block %s run for dead job %s", backup.name, row.block_index, row.job_id
    )
    progress.backup_changed(backup.pk)
    return True


def rescue_batch(backup_id: int, batch: int, by: str, wait: float = 300.0) -> None:
    """Before a worker redoes batch `batch`, run what a dead attempt still owes (or wait for the
    watchdog that is running it): a pod must be thawed before it is frozen again."""
    deadline = time.monotonic() + wait
    while True:
        rows = list(OwedPostHooks.objects.filter(backup_id=backup_id, batch=batch))
        if not rows:
            return
        for row in rows:
            try:
                rescue(row, by)
            except Exception:  # noqa: BLE001 - redoing the block runs its post-hooks again anyway
                logger.exception("post-hooks owed by block %s not run before redoing it", row.block_index)
                return
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)
