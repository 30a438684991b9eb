"""Backups as operators handle them: create (now, from a definition), validate, delete. Views,
commands and schedules call these; admission and the steps of a run are `backups.runs`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from backups import notices
from backups.engine.durations import expiration_at
from backups.engine.storage import StorageError
from backups.live import progress
from backups.models import Backup, BackupDefinition, Cluster, StorageLocation
from backups.runs import removal
from backups.runs.admission import admit
from backups.runs.cancel import CancelOutcome, request_cancel
from backups.services import audit, backup_indexes
from backups.validation import (
    BACKUP_NAME_MAX,
    UnstorableValue,
    backup_problems,
    check_name,
    spec_fields,
    unstorable,
)

log = logging.getLogger(__name__)
Phase = Backup.Phase


def validation_errors(backup: Backup) -> list[str]:
    """What Velero's validation would refuse, checked without the cluster; each message names the
    field (the problems of `validation.backup_problems`, as stored on a FailedValidation backup)."""
    return [problem.message for problem in backup_problems(spec_fields(backup))]


def default_storage_location() -> StorageLocation:
    """The default location; on a fresh install, the local folder of the settings (created, as an
    admin saving a new location would; later checks never create a missing folder)."""
    location = StorageLocation.objects.filter(default=True).first()
    if location is None:
        location, created = StorageLocation.objects.get_or_create(
            name="default",
            defaults={
                "provider": StorageLocation.Provider.LOCAL,
                "path": str(settings.VELOWEB_DEFAULT_STORAGE_DIR),
                "default": True,
            },
        )
        if created:
            try:
                location.store().check(create=True)
            except StorageError:
                pass  # recorded by the first access check; the backup's upload names the cause
    return location


class BackupExists(ValueError):
    """A backup of that name exists already; nothing was saved."""


def create_backup(
    name: str, cluster: Cluster | None, now: datetime | None = None, request_token: str = "", **fields
) -> Backup:
    """Save a backup named `name` and put it in the queue, or in FailedValidation with the reasons.

    A name that cannot be used (InvalidName) or is taken (BackupExists) saves nothing: the name
    becomes folders and keys, so it is checked before anything else."""
    check_name(name)
    return _create([name], cluster, now, request_token, fields, f"a backup named {name!r} already exists")


def create_backup_now(
    prefix: str, cluster: Cluster | None, now: datetime | None = None, request_token: str = "", **fields
) -> Backup:
    """ "Back up now": a backup named PREFIX-YYYYmmddHHMMSS (the first free name of `run_names`,
    even when many requests race for the same second). With `request_token`, a repeated request
    (a double click) gets the backup the first one created."""
    now = now or timezone.now()
    names = run_names(prefix, now)
    return _create(names, cluster, now, request_token, fields, f"no free backup name for {prefix!r}")


def run_names(prefix: str, now: datetime, seconds: int = 1000) -> Iterator[str]:
    """`PREFIX-YYYYmmddHHMMSS`, then `-2`, `-3`... while that fits in 63 characters, then the same
    for the seconds after: candidate names, all valid, none longer than a backup name may be."""
    check_name(f"{prefix}-{now:%Y%m%d%H%M%S}")
    for offset in range(seconds):
        base = f"{prefix}-{now + timedelta(seconds=offset):%Y%m%d%H%M%S}"
        yield base
        number = 2
        while number < 100 and len(candidate := f"{base}-{number}") <= BACKUP_NAME_MAX:
            yield candidate
            number += 1


def _create(names: Iterable[str], cluster, now, request_token: str, fields: dict, taken: str) -> Backup:
    """Save the backup under the first free name of `names` (a unique constraint settles races),
    queued at the end of the queue or FailedValidation, then admit what can run."""
    if request_token and (earlier := Backup.objects.filter(request_token=request_token).first()):
        return earlier
    if unsafe := unstorable(fields):
        raise UnstorableValue("; ".join(p.message for p in unsafe))
    backup = Backup(cluster=cluster, request_token=request_token or None, **fields)
    if backup.storage_location is None:
        backup.storage_location = default_storage_location()
    errors = validation_errors(backup)
    if errors:
        backup.phase = Phase.FAILED_VALIDATION
        backup.validation_errors = errors
        backup.expiration = expiration_at(backup.ttl, now or timezone.now())
    else:
        backup.phase = Phase.QUEUED
    for name in names:
        if Backup.objects.filter(name=name).exists():
            continue
        backup.name = name
        try:
            with transaction.atomic():
                if backup.phase == Phase.QUEUED:
                    last = Backup.objects.filter(phase=Phase.QUEUED).aggregate(m=Max("queue_position"))["m"]
                    backup.queue_position = (last or 0) + 1
                backup.save(force_insert=True)
        except IntegrityError:
            if request_token and (winner := Backup.objects.filter(request_token=request_token).first()):
                return winner  # the same request, a moment earlier
            continue  # the name was taken meanwhile
        audit.record(audit.BACKUP_CREATED, backup, details=_created_details(backup))
        progress.backup_changed(backup.pk)  # the history pages show it
        if backup.phase == Phase.QUEUED:
            admit()
        else:
            notices.backup_ended(backup.pk)  # FailedValidation: it ended as it was made
        return backup
    raise BackupExists(taken)


def _created_details(backup: Backup) -> dict:
    details = {
        "phase": backup.phase,
        "cluster": backup.cluster.name if backup.cluster else "",
        "storage_location": backup.storage_location.name if backup.storage_location else "",
    }
    if backup.definition_id:
        details["definition"] = backup.definition.name
    if backup.schedule_name:
        details["schedule"] = backup.schedule_name
    if backup.validation_errors:
        details["validation_errors"] = backup.validation_errors
    return details


def back_up_definition(
    definition: BackupDefinition,
    name: str | None = None,
    now: datetime | None = None,
    request_token: str = "",
) -> Backup:
    """Back up now with a saved definition: a backup named NAME-YYYYMMDDhhmmss, linked to it, and
    labelled with the schedule when it has one (Velero's `backup create --from-schedule`)."""
    schedule_name = definition.name if definition.schedule else ""
    fields = dict(definition=definition, schedule_name=schedule_name, **definition.spec_fields())
    if name is not None:
        return create_backup(name, definition.cluster, now=now, **fields)
    cluster = definition.cluster
    return create_backup_now(definition.name, cluster, now=now, request_token=request_token, **fields)


def delete_backup(backup: Backup, store=None, by: str = "") -> str | None:
    """Delete a backup (see `_delete`) and record it in the audit trail (also when deferred)."""
    pk, phase = backup.pk, backup.phase
    deferred = _delete(backup, store, by)
    details = {"phase": phase, **({"deferred": deferred} if deferred else {})}
    audit.record(audit.BACKUP_DELETED, backup, object_id=str(pk), details=details)
    return deferred


def cancel_backup(backup: Backup, by: str = "") -> CancelOutcome:
    """Cancel `backup` (`runs.cancel.request_cancel`); recorded when it changed something."""
    outcome = request_cancel(backup, by=by)
    if outcome.changed:
        audit.record(audit.BACKUP_CANCELLED, backup, details={"message": outcome.message})
    return outcome


def _delete(backup: Backup, store=None, by: str = "") -> str | None:
    """Delete a backup with its stored files (only its own `backups/<name>/`), through `store`
    when the caller already has the location's store; StorageError keeps the row. None when it is
    deleted; a running backup is cancelled first and deleted once the cancel took effect (its
    running blocks ran their post-hooks): then the message that says so."""
    if backup.phase in Backup.RUNNING:
        Backup.objects.filter(pk=backup.pk).update(delete_requested=True)
        request_cancel(backup, by=by)
        current = Backup.objects.select_related("storage_location").filter(pk=backup.pk).first()
        if current is None:
            return None  # the cancel took effect at once, and the delete with it
        if current.is_terminal:  # it ended meanwhile, before anyone could honour the request
            return _delete(current, store)
        if current.upload_started and current.phase == Phase.FINALIZING:
            return f"Backup {backup.name} is uploading; it will be deleted once the upload ended."
        return (
            f"Backup {backup.name} is being cancelled; it will be deleted once its running blocks "
            "have run their post-hooks."
        )
    backup_indexes.forget(backup)  # the local copy of its index (a cache: losing it costs nothing)
    removal.remove_ended(backup, store)
    return None


BULK_LIMIT = 500  # backups one bulk delete takes (the history shows 25 a page)


@dataclass
class BulkDeletion:
    deleted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, the storage error)


def bulk_deletable(backup: Backup) -> str:
    """Why `backup` is left out of a bulk delete, or "" when it can go: only ended backups do (a
    running one is cancelled from its own page first, where the wait is shown)."""
    if backup.phase not in Backup.TERMINAL:
        return f"it is {backup.phase}: cancel it first, or delete it from its own page"
    return ""


def delete_backups(ids: Iterable[int], by: str = "") -> BulkDeletion:
    """Delete the ended backups among `ids` (read afresh, so one that started meanwhile is
    skipped) through `delete_backup`, one location's store shared by its backups; a storage error
    keeps that backup and the others go on."""
    outcome = BulkDeletion()
    stores: dict[int, object] = {}
    wanted = list(dict.fromkeys(ids))[:BULK_LIMIT]
    for backup in Backup.objects.select_related("storage_location").filter(pk__in=wanted).order_by("name"):
        why = bulk_deletable(backup)
        if why:
            outcome.skipped.append((backup.name, why))
            continue
        try:
            store = None
            if backup.storage_location_id is not None and not removal.keeps_files(backup):
                if backup.storage_location_id not in stores:
                    stores[backup.storage_location_id] = backup.storage_location.store()
                store = stores[backup.storage_location_id]
            delete_backup(backup, store=store, by=by)
        except (StorageError, ValueError) as error:
            outcome.failed.append((backup.name, str(error)))
            continue
        outcome.deleted.append(backup.name)
    return outcome
