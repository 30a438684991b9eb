"""The log of a backup that was not run here (imported from a storage location): read once from
its `<name>-logs.gz`, line by line, into the database, so the full log page pages, filters and
searches it as it does the logs of the backups run here. A job (`load_stored_log`), started the
first time the page is opened; `Backup.stored_log_lines` says it ran and how many lines it read."""

from __future__ import annotations

import gzip
import io
import logging
import time
from datetime import UTC, datetime

import django_rq
from django.db import transaction

from backups.engine.storage import StorageError
from backups.engine.velero_format.layout import backup_file_key
from backups.engine.velero_format.log_text import parse_line
from backups.models import Backup, BackupLogEntry
from backups.runs import queues

logger = logging.getLogger(__name__)
CHUNK = 5000
LEVELS = {"panic": "error", "fatal": "error", "warn": "warning", "trace": "debug"}


def needs_loading(backup: Backup) -> bool:
    finished = backup.phase in (Backup.Phase.COMPLETED, Backup.Phase.PARTIALLY_FAILED)
    return backup.imported and finished and backup.stored_log_lines is None and backup.storage_location_id


def start_loading(backup: Backup) -> None:
    """Enqueue the job once (its id names the backup: a second page view adds none)."""
    queue = django_rq.get_queue(queues.DEFAULT_QUEUE)
    job_id = f"stored-log-{backup.pk}"
    job = queue.fetch_job(job_id)
    if job is not None and job.get_status(refresh=False) in ("queued", "started", "deferred", "scheduled"):
        return
    queue.enqueue("backups.services.stored_logs.load_stored_log", backup.pk, job_id=job_id)


def _epoch(text: str) -> float:
    """RFC 3339 (logrus's time, with its offset) to epoch seconds; 0 when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def entry_of(backup: Backup, line: str) -> BackupLogEntry:
    """A stored line as a row; a line that is not logrus text is kept whole as an info message."""
    try:
        fields = parse_line(line)
    except ValueError:
        fields = {}
    if "msg" not in fields and "level" not in fields:
        return BackupLogEntry(backup=backup, level="info", message=line.rstrip("\n"), time=0.0)
    level = fields.get("level", "info").lower()
    return BackupLogEntry(
        backup=backup,
        level=LEVELS.get(level, level)[:7],
        message=fields.get("msg", "") or fields.get("error", ""),
        resource=fields.get("resource", "")[:253],
        namespace=fields.get("namespace", "")[:253],
        name=fields.get("name", "")[:253],
        time=_epoch(fields.get("time", "")),
        source=fields.get("logSource", "")[:200],
    )


def load_stored_log(backup_id: int) -> int:
    """Read the stored log into the database (replacing what an earlier try left); the lines read.
    A log that cannot be read leaves one error line saying why."""
    backup = Backup.objects.select_related("storage_location").filter(pk=backup_id).first()
    if backup is None or backup.storage_location is None:
        return 0
    key = backup_file_key("log", backup.name)
    count = 0
    BackupLogEntry.objects.filter(backup=backup).delete()
    try:
        with backup.storage_location.store().open(key) as raw, gzip.open(raw, "rb") as unzipped:
            text = io.TextIOWrapper(unzipped, encoding="utf-8", errors="replace")
            rows = []
            for line in text:
                rows.append(entry_of(backup, line))
                if len(rows) == CHUNK:
                    count += _save(rows)
            count += _save(rows)
    except (StorageError, OSError, EOFError) as error:
        message = f"the stored log {key} could not be read: {error}"
        BackupLogEntry.objects.create(backup=backup, level="error", message=message, time=time.time())
        count += 1
    Backup.objects.filter(pk=backup_id).update(stored_log_lines=count)
    return count


def _save(rows: list[BackupLogEntry]) -> int:
    with transaction.atomic():
        BackupLogEntry.objects.bulk_create(rows, batch_size=1000)
    saved = len(rows)
    rows.clear()
    return saved
