"""Tier gating of a restore: the items of one priority tier are restored in parallel, and the
next tier's batches exist only once every batch of the one before is done (Velero restores its
priorities in order). The CRDs a tier created are waited for, until established, before the
next tier's custom resources are handed out.

A tier starts in one transaction that moves `Restore.current_tier` on (a conditional update:
racing lanes and the watchdog start it once) and inserts its BlockBatch rows; its batches are
then handed to the lanes. The watchdog hands out pending batches nobody enqueued (a process
that died between the commit and the enqueue)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from backups.engine.log import BackupLog
from backups.engine.source import SourceError
from backups.models import BlockBatch, Restore, RestoreLogEntry, RestoreTier
from backups.runs import queues
from backups.runs.batch_sql import add_to_run, write_turn
from backups.runs.kinds import RESTORE
from backups.runs.restore_records import changed, counts_of, result_rows
from backups.runs.restore_session import open_context
from backups.runs.staging import Staging

Phase = Restore.Phase
logger = logging.getLogger(__name__)
CRD_WAIT_SECONDS = 60.0


def next_tier(run_id: int) -> bool:
    """Start the tier after the current one; False when the last tier is done (finalize next)."""
    from backups.runs import batches

    restore = Restore.objects.filter(pk=run_id, phase=Phase.IN_PROGRESS).first()
    if restore is None:
        return True  # not in progress (cancelled, failed): nothing follows from here
    staging = Staging.of_restore(restore)
    tiers = staging.read_tiers()
    index = restore.current_tier + 1
    while index < len(tiers):
        if index > 0 and tiers[index - 1].get("crds"):
            _wait_for_crds(restore, index - 1, tiers[index - 1]["crds"])
        started = start_tier(restore, index, tiers[index])
        if started is None:
            return True  # another lane or the watchdog started it
        if started:
            lanes = queues.split_lanes(restore.workers, queues.block_worker_processes())
            batches.enqueue_next_batches(run_id, lanes, kind=RESTORE)
            return True
        index += 1  # a tier without a batch (all its items excluded): on to the next
        restore.current_tier = index - 1
    return False


def start_tier(restore: Restore, index: int, tier: dict) -> bool | None:
    """Insert tier `index`'s batches as pending, if the tier before it is current; None when it
    is not (started already), else whether the tier has batches."""
    rows = [
        BlockBatch(
            run_kind=RESTORE.name,
            run_id=restore.pk,
            restore=restore,
            number=number,
            first_block=first,
            block_count=count,
            item_count=count,
        )
        for number, first, count in tier["batches"]
    ]
    with write_turn, transaction.atomic():
        moved = Restore.objects.filter(pk=restore.pk, phase=Phase.IN_PROGRESS, current_tier=index - 1).update(
            current_tier=index
        )
        if not moved:
            return None
        BlockBatch.objects.bulk_create(rows, batch_size=500)
        RestoreTier.objects.filter(restore=restore, index=index).update(started=timezone.now())
        if index > 0:
            RestoreTier.objects.filter(restore=restore, index=index - 1, finished__isnull=True).update(
                finished=timezone.now()
            )
    changed(restore.pk)
    return bool(rows)


def _wait_for_crds(restore: Restore, tier: int, names: list[str]) -> None:
    """Wait until the CRDs tier `tier` created are established; those that are not by then are
    errors (their custom resources will fail too, each saying why)."""
    from backups.engine.restore import BackupReadError, RestoreResults, wait_for_crds

    staging = Staging.of_restore(restore)
    results, log = RestoreResults(), BackupLog()
    try:
        ctx = open_context(restore, staging)
    except (SourceError, ValueError, OSError, BackupReadError) as error:
        results.warn(None, f"cannot wait for the restored CRDs: {error}")
    else:
        try:
            for name in wait_for_crds(names, ctx, timeout=CRD_WAIT_SECONDS):
                results.error("", f"CRD {name} not established after {CRD_WAIT_SECONDS:.0f}s")
        except SourceError as error:
            results.warn(None, f"cannot wait for the restored CRDs: {error}")
        finally:
            ctx.target.close()
    for which, level in (("warnings", "warning"), ("errors", "error")):
        for message in results.results_json()[which]["velero"] + results.results_json()[which]["cluster"]:
            getattr(log, level)(message, resource="customresourcedefinitions")
    doc = results.as_json()
    staging.write_part(f"tier-{tier:04d}-crds", {"results": doc, "hooks": []})
    staging.write_log(f"tier-{tier:04d}-crds", log.entries)
    warnings, errors = counts_of(doc)
    if warnings or errors:
        with write_turn, transaction.atomic():
            RestoreLogEntry.objects.bulk_create(result_rows(restore.pk, doc))
            add_to_run(RESTORE, restore.pk, warnings=warnings, errors=errors)
