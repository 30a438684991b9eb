"""Admission: queued backups start in queue order, under the running cap, never two at once whose
namespaces overlap (spec part 1). Serialized, so the cap and the overlap rule hold however many
requests and watchdogs race."""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.conf import settings
from django.db import connection, transaction

from backups.live import progress
from backups.models import Backup
from backups.runs import queues

ADMISSION_LOCK = 0x7665_6C6F  # "velo": the advisory lock key of admissions on PostgreSQL
Phase = Backup.Phase


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
            if queues.start_step(backup.pk, Phase.QUEUED, Phase.READY, "dispatch"):
                backup.phase = Phase.READY
                running.append(backup)
                admitted.append(backup)
        if admitted:
            renumber_queue()
    for backup in admitted:
        progress.backup_changed(backup.pk)  # ReadyToStart, on its page and the history
    return admitted


def _admission_lock() -> None:
    """Serialize admissions until the transaction ends. SQLite needs nothing: its transactions are
    IMMEDIATE (settings), so the first write lock is taken at BEGIN. PostgreSQL's READ COMMITTED
    would let two admissions read the same running set, so they queue on an advisory lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADMISSION_LOCK])


def renumber_queue() -> None:
    queued = Backup.objects.filter(phase=Phase.QUEUED).order_by("queue_position", "id")
    for position, backup in enumerate(queued, 1):
        if backup.queue_position != position:
            Backup.objects.filter(pk=backup.pk).update(queue_position=position)
