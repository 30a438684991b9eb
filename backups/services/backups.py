"""Backup lifecycle: validation, the queue, admission. Views, commands and jobs call these."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

import django_rq
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from backups.engine.durations import TTL
from backups.engine.planning.spec import BackupSpec
from backups.engine.storage import StorageError
from backups.models import Backup, BackupDefinition, Cluster, StorageLocation
from backups.validation import BACKUP_NAME_MAX, backup_problems, backup_spec, check_name

log = logging.getLogger(__name__)
ADMISSION_LOCK = 0x7665_6C6F  # "velo": the advisory lock key of admissions on PostgreSQL
DEFAULT_TTL_SECONDS = 720 * 3600  # Velero's --default-backup-ttl
Phase = Backup.Phase


def spec_of(backup: Backup) -> BackupSpec:
    """The engine's view of a backup's (or a definition's) options."""
    return backup_spec(spec_fields(backup))


def spec_fields(backup) -> dict:
    """The options of a backup or definition as `validation.backup_problems` reads them."""
    names = (name for name in BackupDefinition.SPEC_FIELDS if name != "storage_location_id")
    return {**{name: getattr(backup, name) for name in names}, "storage_location": backup.storage_location}


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


def expiration_at(ttl: str, now: datetime) -> datetime:
    """Velero's expiration, computed before validation: now + TTL, or + 720h when the TTL is zero
    or itself invalid (so even a refused backup expires and is collected)."""
    try:
        seconds = TTL.check(ttl or "")
    except ValueError:
        seconds = 0
    return now + timedelta(seconds=seconds if seconds > 0 else DEFAULT_TTL_SECONDS)


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
    """"Back up now": a backup named PREFIX-YYYYmmddHHMMSS (the first free name of `run_names`,
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
        if backup.phase == Phase.QUEUED:
            admit()
        return backup
    raise BackupExists(taken)


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
    namespaces don't overlap a running backup or one queued ahead of them; enqueue their dispatch.

    One admission at a time: two requests (or a request and the watchdog) that each counted the
    running backups before the other's change would together break the cap or the overlap rule."""
    admitted = []
    with transaction.atomic():
        _admission_lock()
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


def _admission_lock() -> None:
    """Serialize admissions until the transaction ends. SQLite needs nothing: its transactions are
    IMMEDIATE (settings), so the first write lock is taken at BEGIN. PostgreSQL's READ COMMITTED
    would let two admissions read the same running set, so they queue on an advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_LOCK])


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
    The job is enqueued once the change is committed, so it never starts before its phase.
    """
    from backups.runs import batches

    job_id = f"{job}-{backup_id}-{uuid.uuid4().hex[:12]}"
    rows = Backup.objects.filter(pk=backup_id, phase=phase_from)
    if replacing is not None:
        rows = rows.filter(job_id=replacing)
    changes = {"phase": phase_to, "job_id": job_id}
    if phase_to == Phase.READY:
        changes["queue_position"] = None
    # each job enqueued for a step counts, whether it runs, fails or is lost with Redis: the
    # watchdog retries a step a bounded number of times (batches.MAX_STEP_ATTEMPTS)
    counter = {"dispatch": "attempt", "finalize": "finalize_attempts"}[job]
    changes[counter] = F(counter) + 1
    if not rows.update(**changes):
        return False
    func = {"dispatch": batches.dispatch_backup, "finalize": batches.finalize_backup}[job]
    transaction.on_commit(
        lambda: django_rq.get_queue("default").enqueue(func, backup_id, job_id=job_id, job_timeout=6 * 3600)
    )
    return True


def delete_backup(backup: Backup, store=None, by: str = "") -> str | None:
    """Delete a backup with its stored files (only its own `backups/<name>/`), through `store`
    when the caller already has the location's store; StorageError keeps the row. None when it is
    deleted; a running backup is cancelled first and deleted once the cancel took effect (its
    running blocks ran their post-hooks): then the message that says so."""
    from backups.runs.cancel import request_cancel
    from backups.runs.staging import Staging, UnsafePath

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
    try:
        Staging.of(backup).remove()
    except UnsafePath as error:  # a row saved before names were checked: its files are not ours
        log.warning("backup %s: staging folder not removed: %s", backup.pk, error)
    backup.delete()
    return None
