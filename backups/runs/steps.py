"""A backup's steps (dispatch, batches, finalize) and how one ends it: failed with the reason,
or failed by an exception nobody anticipated; errors that pass are retried a bounded number of
times by the watchdog."""

from __future__ import annotations

import logging
import time

import redis
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from backups import notices
from backups.live import progress
from backups.models import Backup, BackupLogEntry
from backups.runs import admission, cancel
from backups.runs.batch_sql import (
    add_to_run,
    write_turn,
)
from backups.runs.kinds import BACKUP

Phase = Backup.Phase
logger = logging.getLogger(__name__)
MAX_STEP_ATTEMPTS = 3  # dispatch and finalize jobs of one backup (Backup.attempt, finalize_attempts)
# Errors that pass: a database or Redis connection lost for a moment. A step that meets one is
# retried (a bounded number of times); any other exception nobody anticipated ends the backup
# Failed with its type and message, instead of the watchdog restarting the step forever.
TRANSIENT = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def fail(backup_id: int, reason: str, phase: str = Phase.FAILED) -> None:
    """End a backup that has not ended yet as Failed (or FailedValidation), with the reason; its
    place goes to the queue at once."""
    field = "validation_errors" if phase == Phase.FAILED_VALIDATION else "failure_reason"
    value = [reason] if phase == Phase.FAILED_VALIDATION else reason
    rows = Backup.objects.filter(pk=backup_id, phase__in=Backup.RUNNING)
    if not rows.update(phase=phase, completed=timezone.now(), **{field: value}):
        return
    progress.backup_changed(backup_id)
    notices.backup_ended(backup_id)
    admission.admit()
    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is not None:
        cancel.delete_if_requested(backup)


def fail_unexpected(backup_id: int, error: BaseException, step: str) -> None:
    """An exception nobody anticipated: the backup ends Failed, saying which and where, in its
    failure reason and its log (the traceback goes to the worker's log)."""
    reason = f"{step} failed: {type(error).__name__}: {error}"
    logger.error("backup %s: %s", backup_id, reason, exc_info=error)
    with write_turn, transaction.atomic():
        BackupLogEntry.objects.create(backup_id=backup_id, level="error", message=reason, time=time.time())
        add_to_run(BACKUP, backup_id, errors=1)
    fail(backup_id, reason)


def log_rows(backup: Backup, entries, block_index=None) -> list[BackupLogEntry]:
    """Every line, info ones too: the full log page reads them while the backup runs."""
    return [
        BackupLogEntry(
            backup=backup,
            level=e.level,
            message=e.message,
            resource=e.resource,
            namespace=e.namespace,
            name=e.name,
            time=e.time,
            block_index=block_index,
            source=e.source[:200],
        )
        for e in entries
    ]


def wait_for(backup_id: int, timeout: float, tick=None, poll: float = 0.5) -> Backup:
    """Poll until the backup is terminal (running `tick`, e.g. the watchdog, between polls)."""
    deadline = time.monotonic() + timeout
    while True:
        backup = Backup.objects.get(pk=backup_id)
        if backup.is_terminal or time.monotonic() > deadline:
            return backup
        if tick:
            tick()
        time.sleep(poll)
