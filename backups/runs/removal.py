"""Removing an ended backup: its own files in storage, its staging folder, its rows. Shared by the
delete an operator asks for and by a run that ends with a delete asked while it ran."""

from __future__ import annotations

import logging

from backups.engine.storage import StorageError
from backups.live import progress
from backups.metrics import tally
from backups.models import Backup
from backups.runs.staging import Staging, UnsafePath

log = logging.getLogger(__name__)
Phase = Backup.Phase


def keeps_files(backup: Backup) -> bool:
    """An imported backup in a read-only location leaves the history only: its files are not ours
    to delete (Velero's or another install's), and the location refuses writes anyway."""
    location = backup.storage_location
    return bool(backup.imported and location and location.read_only)


def remove_ended(backup: Backup, store=None) -> None:
    """Delete an ended backup's stored files (only its own `backups/<name>/`, through `store` when
    the caller has the location's store; none when it `keeps_files`), its staging folder and its
    row; StorageError keeps the row. Counted as Velero's deletion controller counts: an attempt,
    then a success or a failure."""
    tally.count(tally.DELETION_ATTEMPT, backup.schedule_name)
    stored = (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED)
    if backup.storage_location and backup.phase in stored and not keeps_files(backup):
        try:
            (store or backup.storage_location.store()).delete_backup(backup.name)
        except StorageError:
            tally.count(tally.DELETION_FAILURE, backup.schedule_name)
            raise
    try:
        Staging.of(backup).remove()
    except UnsafePath as error:  # a row saved before names were checked: its files are not ours
        log.warning("backup %s: staging folder not removed: %s", backup.pk, error)
    backup_id = backup.pk
    backup.delete()
    tally.count(tally.DELETION_SUCCESS, backup.schedule_name)
    progress.backup_changed(backup_id)  # the history pages drop its row
