"""Running a restore's batches in a job: lanes (threads) that each restore batch after batch of
the current tier, one item at a time, sharing one cluster client and the indexed backup; the
claim, lease and SQL are the machinery's (`batches`, `leases`, `batch_sql`), as for backups."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from backups.engine.log import BackupLog
from backups.engine.restore import BackupReadError, RestoreContext, RestoreResults, restore_item
from backups.engine.restore.results import CREATED, FAILED, SKIPPED, UPDATED
from backups.engine.source import SourceError
from backups.models import BlockBatch, Restore, RestoreLogEntry, RestoreTier
from backups.runs import batches, leases, liveness, restore_ops, steps
from backups.runs.batch_sql import add_to_run, finish_batch, write_turn
from backups.runs.kinds import RESTORE
from backups.runs.restore_records import changed, counts_of, result_rows
from backups.runs.restore_session import item_of, open_context
from backups.runs.staging import Staging

logger = logging.getLogger(__name__)
CANCEL_LOOK_SECONDS = 1.0  # a lane looks whether its restore was cancelled about this often


def run_job(restore_id: int, number: int, lanes: int, job_id: str) -> None:
    """Restore batch `number`, then go on with the restore's next pending batches on `lanes`
    lanes of this job (as `lanes.run_job` does for a backup)."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    liveness.beat(job_id)
    if not batches.claim(restore_id, number, worker, job_id, kind=RESTORE):
        return  # a stale duplicate: the batch is done, or running elsewhere
    names = [worker] + [f"{worker}/{i}" for i in range(1, max(1, lanes))]
    heartbeat = leases.LeaseHeartbeat(restore_id, names, job_id, kind=RESTORE)
    try:
        _run_lanes(restore_id, number, names, job_id)
    finally:
        heartbeat.stop()


def _run_lanes(restore_id: int, number: int, names: list[str], job_id: str) -> None:
    restore = Restore.objects.select_related("cluster").get(pk=restore_id)
    first = BlockBatch.objects.get(run_kind=RESTORE.name, run_id=restore_id, number=number)
    staging = Staging.of_restore(restore)
    try:
        ctx = open_context(restore, staging)
        # what the context derives from the backup, once per job: each batch's copy of the
        # context (`_run_claimed`) shares it instead of reading the backup's claims again
        ctx.table()
        ctx.pv_decision("")
        ctx.service_accounts("")
    except (SourceError, ValueError, OSError, BackupReadError, *steps.TRANSIENT) as error:
        if first.attempts < batches.MAX_BATCH_ATTEMPTS:
            batches.release(first, names[0])
            raise  # the watchdog hands the batch out again
        return restore_ops.give_up(first, f"{error}")
    except Exception as error:
        batches.release(first, names[0])
        return restore_ops.fail_unexpected(restore_id, error, f"batch {number}")
    deadline = time.monotonic() + settings.VELOWEB_BATCH_JOB_SECONDS
    handed_over: list[str] = []

    def lane(batch: BlockBatch | None, name: str) -> None:
        batch = batch or batches.claim_next(restore_id, name, job_id, kind=RESTORE)
        while batch is not None:
            try:
                batch = _run_claimed(batch, name, staging, ctx, job_id, time.monotonic() < deadline)
            except Exception:
                batches.release(batch, name)
                raise
        if time.monotonic() >= deadline:
            handed_over.append(name)

    def extra_lane(name: str) -> None:
        try:
            lane(None, name)
        except Exception:  # noqa: BLE001 - its batch was released for the watchdog to hand out again
            logger.exception("lane %s of restore %s stopped", name, restore_id)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=extra_lane, args=(n,), name=f"lane-{n}", daemon=True) for n in names[1:]
    ]
    try:
        for thread in threads:
            thread.start()
        lane(first, names[0])
    finally:
        for thread in threads:
            thread.join()
        ctx.target.close()
    if handed_over:
        batches.enqueue_next_batches(restore_id, [len(handed_over)], kind=RESTORE)


def _run_claimed(
    batch: BlockBatch, worker: str, staging: Staging, ctx: RestoreContext, job_id: str, go_on: bool
) -> BlockBatch | None:
    """Restore one claimed batch's items; the next batch this lane claimed, or None."""
    restore_id = batch.run_id
    # the batch's own results and log, on the process's shared client, discovery and namespaces
    part = dataclasses.replace(ctx, results=RestoreResults(), log=BackupLog())
    outcomes = []
    try:
        tier, rows = staging.read_restore_batch(batch.number)
        next_look = time.monotonic() + CANCEL_LOOK_SECONDS
        for row in rows:
            if time.monotonic() >= next_look:
                if restore_ops.cancelled(restore_id):
                    break  # the items not restored yet stay so; the lane stops
                next_look = time.monotonic() + CANCEL_LOOK_SECONDS
            outcomes.append(restore_item(item_of(row), part))
    except (SourceError, OSError, BackupReadError, *steps.TRANSIENT) as error:
        if batch.attempts < batches.MAX_BATCH_ATTEMPTS:
            raise  # released by the lane: the watchdog hands the batch out again
        restore_ops.give_up(batch, f"{error}")
        return None
    except Exception as error:  # a bug or an object nobody anticipated: retrying would meet it again
        batches.release(batch, worker)
        restore_ops.fail_unexpected(restore_id, error, f"batch {batch.number}")
        return None
    return complete(batch, worker, tier, outcomes, part, staging, go_on=go_on, job_id=job_id)


def complete(
    batch: BlockBatch,
    worker: str,
    tier: int,
    outcomes: list,
    part: RestoreContext,
    staging: Staging,
    go_on: bool = False,
    job_id: str = "",
) -> BlockBatch | None:
    """Record a finished batch in one transaction (its results for finalize, its warnings and
    errors per namespace, the tier's and the restore's counters); with `go_on`, the same
    transaction claims the run's next pending batch for this lane."""
    restore_id = batch.run_id
    doc = part.results.as_json()
    hooks = [
        {"pod": o.pod, "hooks": [dataclasses.asdict(h) for h in o.post_hooks]}
        for o in outcomes
        if o.pod is not None and o.post_hooks
    ]
    name = f"batch-{batch.number:07d}"
    staging.write_part(name, {"results": doc, "hooks": hooks})
    staging.write_log(name, part.log.entries)
    # an object that exists and differs (policy none) is Velero's warning, "failed" in its resource
    # list: on the page it counts as skipped, not as a failure (no error was made of it)
    results = [SKIPPED if getattr(o, "conflict", False) else o.result for o in outcomes]
    restored = sum(1 for r in results if r in (CREATED, UPDATED))
    skipped = results.count(SKIPPED)
    failed = results.count(FAILED)
    warnings, errors = counts_of(doc)
    with write_turn, transaction.atomic():
        if not finish_batch(batch.pk, worker):
            return None  # presumed dead and taken over: the other run records the batch
        RestoreLogEntry.objects.bulk_create(result_rows(restore_id, doc), batch_size=500)
        add_to_run(
            RESTORE,
            restore_id,
            items_restored=restored,
            items_skipped=skipped,
            items_failed=failed,
            blocks_done=len(outcomes),
            warnings=warnings,
            errors=errors,
        )
        RestoreTier.objects.filter(restore_id=restore_id, index=tier).update(
            restored=F("restored") + restored, skipped=F("skipped") + skipped, failed=F("failed") + failed
        )
        following = batches.claim_next(restore_id, worker, job_id, kind=RESTORE) if go_on else None
    changed(restore_id)
    if following is None:
        batches.maybe_finalize(restore_id, RESTORE)
    return following
