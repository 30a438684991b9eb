"""The audit trail: `record(...)` is the one way an entry is written. Services call it after a
change is saved; the sign-in signals (`backups.audit_signals`) call it for logins and logouts.
Who and from where come from `backups.audit_context` (the request's user and address, a
command's user, or `system` for schedules and expiry) unless `actor` is given."""

from __future__ import annotations

import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, transaction
from django.utils import timezone

from backups import audit_context
from backups.audit_context import Actor
from backups.models import AuditEntry

log = logging.getLogger(__name__)

# Actions, as stored (the filter offers these).
BACKUP_CREATED = "backup.created"
BACKUP_CANCELLED = "backup.cancelled"
BACKUP_DELETED = "backup.deleted"
BACKUP_IMPORTED = "backup.imported"
DEFINITION_CREATED = "definition.created"
DEFINITION_UPDATED = "definition.updated"
DEFINITION_DELETED = "definition.deleted"
SCHEDULE_PAUSED = "schedule.paused"
SCHEDULE_RESUMED = "schedule.resumed"
LOCATION_CREATED = "location.created"
LOCATION_UPDATED = "location.updated"
LOCATION_DEFAULT = "location.default"
CLUSTER_CREATED = "cluster.created"
CLUSTER_UPDATED = "cluster.updated"
CLUSTER_REMOVED = "cluster.removed"
USER_ROLE = "user.role_changed"
USER_GROUPS = "user.groups_changed"
USER_CREATED = "user.created"
USER_DELETED = "user.deleted"
USER_ENABLED = "user.enabled"
USER_DISABLED = "user.disabled"
USER_PASSWORD = "user.password_reset"
LOGIN = "user.login"
LOGIN_FAILED = "user.login_failed"
LOGOUT = "user.logout"
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_UPDATED = "notification.updated"
NOTIFICATION_DELETED = "notification.deleted"
NOTIFICATION_TESTED = "notification.tested"
RESTORE_CREATED = "restore.created"
RESTORE_CANCELLED = "restore.cancelled"
RESTORE_DELETED = "restore.deleted"
TOKEN_CREATED = "token.created"
TOKEN_REVOKED = "token.revoked"

ACTIONS = (
    BACKUP_CREATED, BACKUP_CANCELLED, BACKUP_DELETED, BACKUP_IMPORTED,
    DEFINITION_CREATED, DEFINITION_UPDATED, DEFINITION_DELETED, SCHEDULE_PAUSED, SCHEDULE_RESUMED,
    LOCATION_CREATED, LOCATION_UPDATED, LOCATION_DEFAULT, CLUSTER_CREATED, CLUSTER_UPDATED, CLUSTER_REMOVED,
    USER_CREATED, USER_DELETED, USER_ENABLED, USER_DISABLED, USER_PASSWORD, USER_ROLE, USER_GROUPS,
    LOGIN, LOGIN_FAILED, LOGOUT,
    NOTIFICATION_CREATED, NOTIFICATION_UPDATED, NOTIFICATION_DELETED, NOTIFICATION_TESTED,
    RESTORE_CREATED, RESTORE_CANCELLED, RESTORE_DELETED, TOKEN_CREATED, TOKEN_REVOKED,
)  # fmt: skip

# Object types, as stored (schedules are their definition's).
OBJECT_TYPES = ("backup", "restore", "definition", "cluster", "location", "user", "notification", "token")
_TYPES = {
    "Backup": "backup",
    "BackupDefinition": "definition",
    "StorageLocation": "location",
    "NotificationTarget": "notification",
}


def cli_actor() -> Actor:
    """The actor of a management command: the login name of the shell, via `cli`."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = ""
    return Actor(username=f"{name} (CLI)" if name else "CLI", via="cli")


def changes(before: dict, after: dict) -> dict:
    """{field: [old, new]} for the fields whose value changed (secrets are left to the caller)."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def object_type(obj) -> str:
    """`backup`, `definition`, `location`, `cluster`, `user`...: the model's short name."""
    name = type(obj).__name__
    return _TYPES.get(name, name.lower())


def record(
    action: str,
    obj: Any = None,
    *,
    details: dict | None = None,
    actor: Actor | None = None,
    object_name: str = "",
    object_id: str = "",
    kind: str = "",
) -> AuditEntry | None:
    """Add one entry: `action` on `obj` (its type, id and name are kept as text, so the entry
    outlives it), with `details` (JSON). A failure to write it is logged, never raised: the change
    it describes has happened already."""
    actor = actor or audit_context.current()
    if obj is not None:
        kind = kind or object_type(obj)
        object_id = object_id or str(getattr(obj, "pk", "") or "")
        object_name = object_name or str(getattr(obj, "name", None) or obj)
    entry = AuditEntry(
        time=timezone.now(),
        user=actor.user if getattr(actor.user, "pk", None) else None,
        username=actor.username[:150],
        address=actor.address,
        via=actor.via,
        action=action,
        object_type=kind[:40],
        object_id=object_id[:64],
        object_name=object_name[:253],
        details=_jsonable(details or {}),
    )
    try:
        with transaction.atomic():  # a savepoint: a failed write leaves the caller's transaction usable
            entry.save(force_insert=True)
    except DatabaseError:
        log.exception("audit entry not written: %s %s %s", actor.username, action, object_name)
        return None
    return entry


def _jsonable(details: dict) -> dict:
    """Details with dates, decimals and the like as text (the encoder Django's JSONField lacks)."""
    import json

    return json.loads(json.dumps(details, cls=DjangoJSONEncoder, default=str))
