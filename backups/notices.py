"""Events that notifications go out for, raised where they happen (the run machinery, schedules,
expiry, storage checks) and handed to an RQ job on the `notifications` queue once the change is
committed. Raising one never fails and never waits for a target: the fan-out and the sending are
`backups.services.notifications`' jobs, retried there, so a notification never affects a backup.

The jobs are enqueued by dotted path: this module sits below the services that deliver."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

QUEUE = "notifications"
FAN_OUT = "backups.services.notifications.fan_out"

# Event names, as targets subscribe to them and payloads carry them.
BACKUP_COMPLETED = "backup.completed"
BACKUP_FAILED = "backup.failed"
BACKUP_PARTIALLY_FAILED = "backup.partially_failed"
BACKUP_CANCELLED = "backup.cancelled"
SCHEDULE_MISSED = "schedule.missed"
EXPIRY_FAILED = "backup.expiry_failed"
LOCATION_UNAVAILABLE = "location.unavailable"
RESTORE_FAILED = "restore.failed"
RESTORE_PARTIALLY_FAILED = "restore.partially_failed"
TEST = "test"

EVENTS = {
    BACKUP_FAILED: "Backup Failed (or FailedValidation)",
    BACKUP_PARTIALLY_FAILED: "Backup PartiallyFailed",
    BACKUP_CANCELLED: "Backup Cancelled",
    SCHEDULE_MISSED: "A schedule missed its run",
    EXPIRY_FAILED: "An expired backup could not be deleted",
    LOCATION_UNAVAILABLE: "A storage location became unreachable",
    RESTORE_FAILED: "Restore Failed (or FailedValidation)",
    RESTORE_PARTIALLY_FAILED: "Restore PartiallyFailed",
    BACKUP_COMPLETED: "Backup Completed",
}
DEFAULT_EVENTS = [e for e in EVENTS if e != BACKUP_COMPLETED]
_PHASE_EVENTS = {
    "Failed": BACKUP_FAILED,
    "FailedValidation": BACKUP_FAILED,
    "PartiallyFailed": BACKUP_PARTIALLY_FAILED,
    "Cancelled": BACKUP_CANCELLED,
    "Completed": BACKUP_COMPLETED,
}


def emit(event: str, payload: dict[str, Any], once_key: str = "") -> None:
    """Queue the fan-out of `event` after the current transaction commits. With `once_key`, an
    event already raised under that key (in Redis, for a week) is not raised again."""
    payload = {"event": event, "time": timezone.now().isoformat(), **payload}
    transaction.on_commit(lambda: _enqueue(payload, once_key))


def _enqueue(payload: dict, once_key: str) -> None:
    try:
        import django_rq

        queue = django_rq.get_queue(QUEUE)
        if once_key and not queue.connection.set(f"veloweb:notice:{once_key}", 1, nx=True, ex=7 * 86400):
            return
        queue.enqueue(FAN_OUT, payload, job_timeout=300, result_ttl=3600, failure_ttl=7 * 86400)
    except Exception:  # noqa: BLE001 - Redis down: the notification is lost, the backup is not
        log.exception("notification %s not queued", payload.get("event"))


def backup_payload(backup) -> dict[str, Any]:
    """What a notification says of a backup."""
    return {
        "backup": {
            "id": backup.pk,
            "name": backup.name,
            "phase": backup.phase,
            "cluster": backup.cluster.name if backup.cluster_id else "",
            "storage_location": backup.storage_location.name if backup.storage_location_id else "",
            "definition": backup.definition.name if backup.definition_id else "",
            "schedule": backup.schedule_name,
            "started": backup.started.isoformat() if backup.started else None,
            "completed": backup.completed.isoformat() if backup.completed else None,
            "errors": backup.errors,
            "warnings": backup.warnings,
            "items_backed_up": backup.items_backed_up,
            "total_items": backup.total_items,
            "failure_reason": backup.failure_reason or "; ".join(backup.validation_errors or []),
            "cancelled_by": backup.cancelled_by,
        },
        "definition_id": backup.definition_id,
    }


def backup_ended(backup_id: int) -> None:
    """A backup reached a terminal phase: the event for that phase, if any."""
    from django.apps import apps

    Backup = apps.get_model("backups", "Backup")  # not imported: models raise events too
    try:
        backup = Backup.objects.select_related("cluster", "storage_location", "definition").get(pk=backup_id)
    except Backup.DoesNotExist:
        return
    event = _PHASE_EVENTS.get(backup.phase)
    if event:
        emit(event, backup_payload(backup), once_key=f"ended:{_identity(backup)}:{backup.phase}")


_RESTORE_EVENTS = {
    "Failed": RESTORE_FAILED,
    "FailedValidation": RESTORE_FAILED,
    "PartiallyFailed": RESTORE_PARTIALLY_FAILED,
}


def restore_ended(restore_id: int) -> None:
    """A restore reached a terminal phase: the event for a failed or partially failed one."""
    from django.apps import apps

    Restore = apps.get_model("backups", "Restore")
    restore = Restore.objects.select_related("cluster", "backup").filter(pk=restore_id).first()
    if restore is None or (event := _RESTORE_EVENTS.get(restore.phase)) is None:
        return
    payload = {
        "restore": {
            "id": restore.pk,
            "name": restore.name,
            "phase": restore.phase,
            "backup": restore.backup_name,
            "cluster": restore.cluster.name if restore.cluster_id else "",
            "errors": restore.errors,
            "warnings": restore.warnings,
            "failure_reason": restore.failure_reason or "; ".join(restore.validation_errors or []),
        },
        "definition_id": restore.backup.definition_id if restore.backup_id else None,
    }
    created = restore.created.timestamp() if getattr(restore, "created", None) else ""
    emit(event, payload, once_key=f"restore:{restore.pk}:{restore.name}:{created}:{restore.phase}")


def schedule_missed(definition, due, reason: str) -> None:
    emit(
        SCHEDULE_MISSED,
        {
            "schedule": {"name": definition.name, "expression": definition.schedule, "due": due.isoformat()},
            "definition_id": definition.pk,
            "message": reason,
        },
        once_key=f"missed:{definition.pk}:{definition.name}:{due.isoformat()}",
    )


def expiry_failed(backup, reason: str, detail: str) -> None:
    payload = backup_payload(backup)
    payload["message"] = f"{reason}: {detail}" if detail else reason
    emit(EXPIRY_FAILED, payload, once_key=f"expiry:{_identity(backup)}:{reason}")


def _identity(backup) -> str:
    """A backup's id, name and creation time: never the same for two backups, even across a
    database reset that reuses ids (the once-keys live in Redis)."""
    return f"{backup.pk}:{backup.name}:{backup.created.timestamp() if backup.created else ''}"


def location_unavailable(location, problem: str) -> None:
    emit(LOCATION_UNAVAILABLE, {"location": {"id": location.pk, "name": location.name}, "message": problem})
