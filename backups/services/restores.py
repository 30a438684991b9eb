"""Restores as operators handle them: create one (validated like every other entry point, by
`validation.restore_problems`), preview it (the dry run), delete it. The views and
`manage.py restore` call these; the steps of a running restore are `backups.runs.restore_*`."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from backups import notices
from backups.engine.restore import BackupReadError, RestorePlan, plan_restore
from backups.engine.source import SourceError
from backups.engine.storage import StorageError
from backups.engine.velero_format.layout import restore_file_key
from backups.models import Backup, Cluster, Restore
from backups.runs import queues, restore_ops
from backups.runs.kinds import RESTORE
from backups.runs.restore_planning import RESTORABLE, fetch_contents
from backups.runs.staging import Staging
from backups.services import audit
from backups.validation import (
    BACKUP_NAME_MAX,
    UnstorableValue,
    check_name,
    restore_problems,
    restore_spec,
    unstorable,
)

log = logging.getLogger(__name__)
Phase = Restore.Phase
DRY_RUN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class RestoreExists(ValueError):
    """A restore of that name exists already; nothing was saved."""


class NotRestorable(ValueError):
    """The backup cannot be restored (not finished, failed, or without a storage location)."""


class DryRunFailed(ValueError):
    """The dry run could not read the backup or the cluster; the message says which and why."""


def not_restorable(backup: Backup) -> str | None:
    """Why `backup` cannot be restored, or None: Velero restores Completed and PartiallyFailed
    backups, read from their storage location (imported ones too)."""
    if backup.phase not in RESTORABLE:
        return (
            f"backup {backup.name} is {backup.phase}: only Completed or PartiallyFailed backups "
            "can be restored"
        )
    if backup.storage_location is None:
        return f"backup {backup.name} has no storage location to read it from"
    return None


def default_name(backup: Backup, now: datetime | None = None) -> str:
    """Velero's default restore name: `<backup>-<YYYYmmddHHMMSS>`, the backup's name shortened to fit."""
    stamp = f"{now or timezone.now():%Y%m%d%H%M%S}"
    return f"{backup.name[: BACKUP_NAME_MAX - len(stamp) - 1].rstrip('-')}-{stamp}"


def create_restore(
    name: str,
    backup: Backup,
    cluster: Cluster,
    *,
    user=None,
    by: str = "",
    request_token: str = "",
    **options,
) -> Restore:
    """Save a restore of `backup` into `cluster` and start it (dispatch job), or save it
    FailedValidation with the reasons. A bad or taken name, or a backup that cannot be restored,
    saves nothing (RestoreExists, NotRestorable, InvalidName)."""
    check_name(name)
    if request_token and (earlier := Restore.objects.filter(request_token=request_token).first()):
        return earlier
    problem = not_restorable(backup)
    if problem:
        raise NotRestorable(problem)
    if unsafe := unstorable(options):
        raise UnstorableValue("; ".join(p.message for p in unsafe))
    restore = Restore(
        name=name,
        backup=backup,
        backup_name=backup.name,
        cluster=cluster,
        storage_location=backup.storage_location,
        created_by=user if getattr(user, "is_authenticated", False) else None,
        created_by_name=by or (user.get_username() if getattr(user, "is_authenticated", False) else ""),
        request_token=request_token or None,
        **options,
    )
    problems = restore_problems(restore.options(), backup.name)
    if problems:
        restore.phase = Phase.FAILED_VALIDATION
        restore.validation_errors = [p.message for p in problems]
        restore.completed = timezone.now()
    try:
        with transaction.atomic():
            restore.save(force_insert=True)
            if not problems:
                queues.start_step(restore.pk, Phase.NEW, Phase.NEW, "dispatch", kind=RESTORE)
    except IntegrityError:
        if request_token and (winner := Restore.objects.filter(request_token=request_token).first()):
            return winner
        raise RestoreExists(f"a restore named {name!r} already exists") from None
    log.info("restore %s of backup %s into cluster %s: %s", name, backup.name, cluster.name, restore.phase)
    details = {"backup": backup.name, "cluster": cluster.name, "phase": restore.phase}
    if restore.validation_errors:
        details["validation_errors"] = restore.validation_errors
    audit.record(audit.RESTORE_CREATED, restore, details=details)
    if problems:
        notices.restore_ended(restore.pk)  # FailedValidation: it ended as it was made
    return restore


@dataclass
class DryRun:
    """A saved dry run: what restoring `backup` into `cluster` with `options` would do."""

    token: str
    backup: str
    cluster: str
    options: dict
    created: str
    items: list[dict]  # PlannedItem.as_dict(diff=True)
    counts: dict
    warnings: list[str]


def dry_run(backup: Backup, cluster: Cluster, options: dict) -> RestorePlan:
    """The plan of a restore, read-only against the target: per item create, skip, conflict
    (with the field diff), update or excluded, and why. Raises DryRunFailed, NotRestorable, or
    ValueError for options that do not validate."""
    problem = not_restorable(backup)
    if problem:
        raise NotRestorable(problem)
    problems = restore_problems(options, backup.name)
    if problems:
        raise ValueError("; ".join(p.message for p in problems))
    Path(settings.VELOWEB_STAGING_DIR).mkdir(parents=True, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="dry-run-", dir=settings.VELOWEB_STAGING_DIR)
    try:
        try:
            contents = fetch_contents(backup, folder)
        except (StorageError, BackupReadError) as error:
            raise DryRunFailed(f"cannot read backup {backup.name}: {error}") from None
        try:
            target = cluster.connect()
        except (SourceError, ValueError, OSError) as error:
            raise DryRunFailed(f"cannot reach cluster {cluster.name}: {error}") from None
        try:
            return plan_restore(contents, restore_spec(options, backup.name), target, dry_run=True)
        except SourceError as error:
            raise DryRunFailed(f"cannot read cluster {cluster.name}: {error}") from None
        finally:
            target.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dry_runs_dir() -> Path:
    return Path(settings.DATA_DIR) / "dry-runs"


def save_dry_run(plan: RestorePlan, backup: Backup, cluster: Cluster, options: dict) -> str:
    """Keep a dry run's plan for its page (filtered and paged there); its token."""
    token = secrets.token_urlsafe(18)
    doc = {
        "token": token,
        "backup": backup.name,
        "cluster": cluster.name,
        "options": options,
        "created": timezone.now().isoformat(),
        "items": [item.as_dict(diff=True) for item in plan.items()],
        "counts": plan.counts(),
        "warnings": list(plan.warnings),
    }
    dry_runs_dir().mkdir(parents=True, exist_ok=True)
    path = dry_runs_dir() / f"{token}.json"
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(doc, default=str))
    os.replace(tmp, path)
    return token


def load_dry_run(token: str) -> DryRun | None:
    """A saved dry run, or None (unknown or junk token)."""
    if not DRY_RUN_TOKEN.match(token or ""):
        return None
    path = dry_runs_dir() / f"{token}.json"
    try:
        return DryRun(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def delete_restore(restore: Restore) -> None:
    """Delete an ended restore: its files under `restores/<name>/` in the storage location and
    its row (Velero's `restore delete`; the restored objects stay). A running restore must be
    cancelled first: ValueError. StorageError keeps the row."""
    if not restore.is_terminal:
        raise ValueError(f"restore {restore.name} is {restore.phase}: cancel it before deleting it")
    location = restore.storage_location
    if location is not None and not location.read_only:
        store = location.store()
        for kind in ("log", "results", "resource-list"):
            store.delete(restore_file_key(kind, restore.name))
    Staging.of_restore(restore).remove()
    pk, phase = restore.pk, restore.phase
    restore.delete()
    audit.record(audit.RESTORE_DELETED, restore, object_id=str(pk), details={"phase": phase})


def cancel_restore(restore: Restore, by: str = ""):
    """Cancel a restore (`runs.restore_ops.request_cancel`); recorded when it changed something."""
    outcome = restore_ops.request_cancel(restore, by=by)
    if outcome.changed:
        audit.record(audit.RESTORE_CANCELLED, restore, details={"message": outcome.message})
    return outcome
