"""Backup lifecycle: validation, the queue, admission. Views, commands and jobs call these."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from backups.engine.durations import parse_duration
from backups.engine.filters import NamespaceFilter
from backups.engine.hooks import parse_resource_hooks
from backups.engine.selectors import parse_selector
from backups.engine.spec import BackupSpec, SpecError
from backups.engine.storage import StorageError
from backups.models import Backup, BackupDefinition, Cluster, StorageLocation

NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DEFAULT_TTL_SECONDS = 720 * 3600  # Velero's --default-backup-ttl
Phase = Backup.Phase


def spec_of(backup: Backup) -> BackupSpec:
    return BackupSpec(
        included_namespaces=list(backup.included_namespaces) or ["*"],
        excluded_namespaces=list(backup.excluded_namespaces),
        included_resources=list(backup.included_resources) or ["*"],
        excluded_resources=list(backup.excluded_resources),
        include_cluster_resources=backup.include_cluster_resources,
        label_selector=backup.label_selector or None,
        ordered_resources={k: list(v) for k, v in (backup.ordered_resources or {}).items()},
        volume_group_label_key=backup.volume_group_label_key,
    )


def validation_errors(backup: Backup) -> list[str]:
    """What Velero's validation would refuse, checked without the cluster; each names the field."""
    errors = []
    if not NAME.match(backup.name or "") or len(backup.name) > 63:
        errors.append(f"invalid name {backup.name!r}: lower-case letters, digits and '-', at most 63")
    try:
        NamespaceFilter.build(backup.included_namespaces, backup.excluded_namespaces)
    except SpecError as error:
        errors.append(str(error))
    if "*" in backup.excluded_resources:
        errors.append("invalid excluded resources: '*' cannot be excluded")
    if backup.label_selector:
        try:
            parse_selector(backup.label_selector)
        except ValueError as error:
            errors.append(str(error))
    if not isinstance(backup.ordered_resources, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in backup.ordered_resources.values()
    ):
        errors.append("invalid ordered resources: expected a map of resource to a list of names")
    try:
        if parse_duration(backup.ttl) < 0:
            errors.append(f"invalid ttl {backup.ttl!r}: must not be negative")
    except ValueError as error:
        errors.append(f"invalid ttl {backup.ttl!r}: {error}")
    try:
        parse_duration(backup.csi_snapshot_timeout)
    except ValueError as error:
        errors.append(f"invalid csi snapshot timeout {backup.csi_snapshot_timeout!r}: {error}")
    try:
        parse_resource_hooks((backup.hooks or {}).get("resources"))
    except ValueError as error:
        errors.append(str(error))
    if not 1 <= backup.workers <= 64:
        errors.append(f"invalid workers {backup.workers}: from 1 to 64")
    if backup.storage_location and backup.storage_location.read_only:
        errors.append(f"storage location {backup.storage_location.name} is read-only")
    return errors


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


def expiration_at(ttl: str, now: datetime) -> datetime:
    """Velero's expiration, computed before validation: now + TTL, or + 720h when the TTL is zero
    or itself invalid (so even a refused backup expires and is collected)."""
    try:
        seconds = parse_duration(ttl or "")
    except ValueError:
        seconds = 0
    return now + timedelta(seconds=seconds if seconds > 0 else DEFAULT_TTL_SECONDS)


def create_backup(name: str, cluster: Cluster, now: datetime | None = None, **fields) -> Backup:
    """Save a backup and put it in the queue, or in FailedValidation with the reasons stored."""
    backup = Backup(name=name, cluster=cluster, **fields)
    if backup.storage_location is None:
        backup.storage_location = default_storage_location()
    errors = validation_errors(backup)
    with transaction.atomic():
        if errors:
            backup.phase = Phase.FAILED_VALIDATION
            backup.validation_errors = errors
            backup.expiration = expiration_at(backup.ttl, now or timezone.now())
        else:
            last = Backup.objects.filter(phase=Phase.QUEUED).aggregate(m=Max("queue_position"))["m"] or 0
            backup.phase = Phase.QUEUED
            backup.queue_position = last + 1
        backup.save()
    if not errors:
        admit()
    return backup


def back_up_definition(
    definition: BackupDefinition, name: str | None = None, now: datetime | None = None
) -> Backup:
    """Back up now with a saved definition: a backup named NAME-YYYYMMDDhhmmss, linked to it, and
    labelled with the schedule when it has one (Velero's `backup create --from-schedule`)."""
    from backups.forms import backup_name_for

    return create_backup(
        name or backup_name_for(definition.name),
        definition.cluster,
        now=now,
        definition=definition,
        schedule_name=definition.name if definition.schedule else "",
        **definition.spec_fields(),
    )


def _namespaces(backup: Backup) -> tuple[list[str], list[str]]:
    return list(backup.included_namespaces) or ["*"], list(backup.excluded_namespaces)


def namespaces_overlap(a: Backup, b: Backup) -> bool:
    """Velero 1.18 runs two backups at once only when their namespace sets are disjoint.

    Without the cluster at hand, include patterns are compared with each other: a whole-cluster
    backup overlaps everything, and two patterns overlap when either matches the other.
    """
    if a.cluster_id != b.cluster_id:
        return False
    a_in, _ = _namespaces(a)
    b_in, _ = _namespaces(b)
    if "*" in a_in or "*" in b_in:
        return True
    return any(fnmatchcase(x, y) or fnmatchcase(y, x) for x in a_in for y in b_in)


def admit() -> list[Backup]:
    """Move queued backups to ReadyToStart in queue order, under the running cap, when their
    namespaces don't overlap a running backup or one queued ahead of them; enqueue their dispatch."""
    admitted = []
    running = list(Backup.objects.filter(phase__in=Backup.RUNNING))
    ahead: list[Backup] = []
    for backup in Backup.objects.filter(phase=Phase.QUEUED).order_by("queue_position", "id"):
        if len(running) >= settings.VELOWEB_MAX_RUNNING_BACKUPS:
            break
        if any(namespaces_overlap(backup, other) for other in running + ahead):
            ahead.append(backup)
            continue
        if start_job(backup.pk, Phase.QUEUED, Phase.READY, "dispatch"):
            backup.phase = Phase.READY
            running.append(backup)
            admitted.append(backup)
    if admitted:
        _renumber_queue()
    return admitted


def _renumber_queue() -> None:
    queued = Backup.objects.filter(phase=Phase.QUEUED).order_by("queue_position", "id")
    for position, backup in enumerate(queued, 1):
        if backup.queue_position != position:
            Backup.objects.filter(pk=backup.pk).update(queue_position=position)


def start_job(backup_id: int, phase_from: str, phase_to: str, job: str, replacing: str | None = None) -> bool:
    """Move a backup between phases and enqueue the job for the new phase, as one step.

    The job id is stored with the phase change (compare-and-swap on the previous job id when
    `replacing` is given), so a watchdog never sees a phase without its job, two watchdogs never
    enqueue the same step twice, and a stale duplicate job recognises itself and does nothing.
    """
    from backups import jobs

    job_id = f"{job}-{backup_id}-{uuid.uuid4().hex[:12]}"
    rows = Backup.objects.filter(pk=backup_id, phase=phase_from)
    if replacing is not None:
        rows = rows.filter(job_id=replacing)
    changes = {"phase": phase_to, "job_id": job_id}
    if phase_to == Phase.READY:
        changes["queue_position"] = None
    # each job enqueued for a step counts, whether it runs, fails or is lost with Redis: the
    # watchdog retries a step a bounded number of times (jobs.MAX_STEP_ATTEMPTS)
    counter = {"dispatch": "attempt", "finalize": "finalize_attempts"}[job]
    changes[counter] = F(counter) + 1
    if not rows.update(**changes):
        return False
    func = {"dispatch": jobs.dispatch_backup, "finalize": jobs.finalize_backup}[job]
    django_rq.get_queue("default").enqueue(func, backup_id, job_id=job_id, job_timeout=6 * 3600)
    return True


def delete_backup(backup: Backup, store=None, by: str = "") -> str | None:
    """Delete a backup with its stored files (only its own `backups/<name>/`), through `store`
    when the caller already has the location's store; StorageError keeps the row. None when it is
    deleted; a running backup is cancelled first and deleted once the cancel took effect (its
    running blocks ran their post-hooks): then the message that says so."""
    from backups.cancel import request_cancel
    from backups.staging import Staging

    if backup.phase in Backup.RUNNING:
        Backup.objects.filter(pk=backup.pk).update(delete_requested=True)
        request_cancel(backup, by=by)
        current = Backup.objects.select_related("storage_location").filter(pk=backup.pk).first()
        if current is None:
            return None  # the cancel took effect at once, and the delete with it
        if current.is_terminal:  # it ended meanwhile, before anyone could honour the request
            return delete_backup(current, store)
        if current.upload_started and current.phase == Phase.FINALIZING:
            return f"Backup {backup.name} is uploading; it will be deleted once the upload ended."
        return (
            f"Backup {backup.name} is being cancelled; it will be deleted once its running blocks "
            "have run their post-hooks."
        )
    if backup.storage_location and backup.phase in (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED):
        (store or backup.storage_location.store()).delete_backup(backup.name)
    Staging.of(backup).remove()
    backup.delete()
    return None
