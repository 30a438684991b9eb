"""What every step of a restore records: its log's warnings and errors as rows, and the word
to its live page that it changed."""

from __future__ import annotations

from backups.live import progress
from backups.models import RestoreLogEntry
from backups.runs.kinds import RESTORE


def changed(restore_id: int) -> None:
    """The Restore row (phase, counters, tiers) changed: its page re-reads it."""
    progress.run_changed(restore_id, RESTORE.name)


def log_rows(restore_id: int, entries) -> list[RestoreLogEntry]:
    """The warnings and errors of `entries` as rows (info lines stay in the log file)."""
    return [
        RestoreLogEntry(
            restore_id=restore_id,
            level=e.level,
            message=e.message,
            resource=e.resource,
            namespace=e.namespace,
            name=e.name,
            time=e.time,
        )
        for e in entries
        if e.level in ("warning", "error")
    ]
