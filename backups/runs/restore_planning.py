"""Planning a restore (its dispatch step): fetch the backup's tarball from its storage location
into the restore's staging folder, index it (`engine.restore.BackupContents`), put every item in
Velero's priority tiers (`engine.restore.plan_restore`) and write each tier's items as batches;
then the first tier's batches go to the lanes (`restore_tiers`)."""

from __future__ import annotations

import logging
import math
import os

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backups.engine.log import BackupLog
from backups.engine.restore import (
    EXCLUDED,
    BackupContents,
    BackupReadError,
    RestorePlan,
    plan_restore,
)
from backups.engine.source import SourceError
from backups.engine.storage import StorageError
from backups.engine.storage.restore_io import download_backup_tarball, read_backup_metadata
from backups.models import Backup, Restore, RestoreLogEntry, RestoreTier
from backups.runs import batches, restore_ops, restore_tiers, steps
from backups.runs.batch_sql import add_to_run, write_turn
from backups.runs.kinds import RESTORE
from backups.runs.restore_records import changed, log_rows
from backups.runs.restore_session import CONTENTS, item_row
from backups.runs.staging import Staging
from backups.validation import restore_spec

Phase = Restore.Phase
logger = logging.getLogger(__name__)
RESTORABLE = (Backup.Phase.COMPLETED, Backup.Phase.PARTIALLY_FAILED)


def fetch_contents(backup: Backup, folder: str) -> BackupContents:
    """The backup's objects, indexed into `folder` from its storage location (the tarball is
    removed once indexed). StorageError or BackupReadError say what went wrong."""
    location = backup.storage_location
    if location is None:
        raise StorageError(f"backup {backup.name} has no storage location to restore from")
    store = location.store()
    os.makedirs(folder, exist_ok=True)
    tarball = os.path.join(folder, f"{backup.name}.tar.gz")
    backup_json, infos = read_backup_metadata(store, backup.name)
    download_backup_tarball(store, backup.name, tarball)
    try:
        return BackupContents.open(
            tarball, os.path.join(folder, CONTENTS), backup=backup_json, volume_infos=infos
        )
    finally:
        os.unlink(tarball)


def dispatch(restore_id: int, job_id: str | None) -> None:
    """Plan the restore and start its first tier; a stale duplicate job does nothing."""
    if not Restore.objects.filter(pk=restore_id, phase=Phase.NEW, job_id=job_id).update(
        phase=Phase.IN_PROGRESS, started=timezone.now()
    ):
        return
    try:
        _dispatch(restore_id, job_id)
    except steps.TRANSIENT:
        raise  # the watchdog dispatches again, at most steps.MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        restore_ops.fail_unexpected(restore_id, error, "planning")


def _dispatch(restore_id: int, job_id: str | None) -> None:
    restore = Restore.objects.select_related("backup__storage_location", "cluster").get(pk=restore_id)
    backup = restore.backup
    if backup is None or backup.phase not in RESTORABLE:
        return restore_ops.fail(
            restore_id, f"backup {restore.backup_name} is gone or not restorable", Phase.FAILED_VALIDATION
        )
    staging = Staging.of_restore(restore)
    staging.reset()
    RestoreTier.objects.filter(restore=restore).delete()
    RestoreLogEntry.objects.filter(restore=restore).delete()
    try:
        contents = fetch_contents(backup, str(staging.root))
    except (StorageError, BackupReadError) as error:
        return restore_ops.fail(restore_id, f"cannot read backup {backup.name}: {error}")
    if restore_ops.cancelled(restore_id):
        restore_ops.cancel_finish(restore_id, by_job=job_id)
        return
    try:
        target = restore.cluster.connect()
    except (SourceError, ValueError, OSError) as error:
        return restore_ops.fail(restore_id, f"cannot reach cluster {restore.cluster.name}: {error}")
    try:
        plan = plan_restore(
            contents,
            restore_spec(restore.options(), backup.name),
            target,
            dry_run=False,
            restore_name=restore.name,
        )
    except SourceError as error:
        return restore_ops.fail(restore_id, f"cannot read cluster {restore.cluster.name}: {error}")
    finally:
        target.close()
    log = BackupLog()
    for warning in plan.warnings:
        log.warning(warning)
    tiers = write_plan(restore, staging, plan)
    staging.write_log("dispatch", log.entries)
    excluded = sum(1 for item in plan.items() if item.action == EXCLUDED)
    with write_turn, transaction.atomic():
        RestoreTier.objects.bulk_create(
            RestoreTier(
                restore=restore,
                index=index,
                label=tier["label"][:400],
                item_count=tier["items"],
                first_batch=tier["batches"][0][0] if tier["batches"] else 0,
                batch_count=len(tier["batches"]),
            )
            for index, tier in enumerate(tiers)
        )
        RestoreLogEntry.objects.bulk_create(log_rows(restore_id, log.entries))
        Restore.objects.filter(pk=restore_id).update(
            total_items=plan.to_restore_count, items_excluded=excluded, total_tiers=len(tiers)
        )
        add_to_run(RESTORE, restore_id, warnings=log.warnings)
    changed(restore_id)
    if restore_ops.cancelled(restore_id):
        restore_ops.cancel_finish(restore_id, by_job=job_id)
        return
    if not restore_tiers.next_tier(restore_id):
        batches.maybe_finalize(restore_id, RESTORE)  # nothing to restore: straight to finalize


def batch_size(items: int, workers: int) -> int:
    """Items per batch in a tier: small enough that every lane gets several batches (restoring an
    item is one API call, latency-bound), at most VELOWEB_BATCH_ITEMS."""
    per_lane = math.ceil(items / max(1, workers * 4))
    return max(1, min(settings.VELOWEB_BATCH_ITEMS, per_lane))


def write_plan(restore: Restore, staging: Staging, plan: RestorePlan) -> list[dict]:
    """Write each tier's items to restore as batch files, numbered across tiers; the tiers
    (label, items, batches as (number, first item, count), CRDs created) to `tiers.json`."""
    tiers: list[dict] = []
    number = ordinal = 0
    for tier in plan.tiers:
        items = tier.to_restore()
        if not items:
            continue
        size = batch_size(len(items), restore.workers)
        rows = []
        for start in range(0, len(items), size):
            chunk = items[start : start + size]
            staging.write_restore_batch(number, len(tiers), [item_row(i) for i in chunk])
            rows.append((number, ordinal, len(chunk)))
            number += 1
            ordinal += len(chunk)
        crds = [i.name for i in items if i.resource == "customresourcedefinitions"]
        tiers.append({"label": tier.name, "items": len(items), "batches": rows, "crds": crds})
    staging.write_tiers(tiers)
    return tiers
