"""Expiry: Velero's garbage collection (pkg/controller/gc_controller.go).

RQ's CronScheduler (`backups.periodic_jobs`) enqueues `collect_expired` every VELOWEB_GC_INTERVAL seconds
(Velero's --garbage-collection-frequency, 1h). A backup past its expiration and not running is
deleted with its stored files. When its storage location is gone, read-only or unreachable, the
backup and its files stay, labelled with Velero's gc-failure reason, and the next run tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from backups import notices
from backups.engine.storage import StorageError
from backups.models import Backup, StorageLocation
from backups.services import backups as backup_services
from backups.services.schedules import BUSY

log = logging.getLogger(__name__)

# Velero's velero.io/gc-failure label values
BSL_NOT_FOUND = "BSLNotFound"
BSL_READ_ONLY = "BSLReadOnly"
BSL_CANNOT_GET = "BSLCannotGet"


def check_location(location: StorageLocation, now: datetime):
    """The location's store once it answered (status recorded, as Velero's BSL phase), else the
    reason it did not."""
    problem = location.check_access(now=now)
    return StorageError(problem) if problem else location.store()


def _mark(backup: Backup, reason: str, detail: str = "") -> None:
    Backup.objects.filter(pk=backup.pk).update(gc_failure=reason, gc_failure_detail=detail)
    notices.expiry_failed(backup, reason, detail)
    log.warning("expired backup %s kept: %s %s", backup.name, reason, detail)


def collect_expired(now: datetime | None = None) -> dict:
    """Delete every expired backup that is not running; returns {"deleted": [...], "kept": {name:
    reason}} (the RQ job's result)."""
    now = now or timezone.now()
    stores: dict[int, object] = {}  # location id -> its store, or the error that made it unusable
    deleted, kept = [], {}
    expired = (
        Backup.objects.filter(expiration__lt=now)
        .exclude(phase__in=BUSY)
        .select_related("storage_location")
        .order_by("expiration", "id")
    )
    for backup in expired:
        location = backup.storage_location
        if location is None:
            _mark(backup, BSL_NOT_FOUND)
            kept[backup.name] = BSL_NOT_FOUND
            continue
        if location.read_only:
            _mark(backup, BSL_READ_ONLY)
            kept[backup.name] = BSL_READ_ONLY
            continue
        if location.pk not in stores:
            stores[location.pk] = check_location(location, now)
        store = stores[location.pk]
        if isinstance(store, Exception):
            _mark(backup, BSL_CANNOT_GET, str(store))
            kept[backup.name] = BSL_CANNOT_GET
            continue
        try:
            backup_services.delete_backup(backup, store=store)
        except (StorageError, ValueError) as error:
            _mark(backup, BSL_CANNOT_GET, str(error))
            kept[backup.name] = BSL_CANNOT_GET
            continue
        deleted.append(backup.name)
        log.info("expired backup %s deleted", backup.name)
    return {"deleted": deleted, "kept": kept}
