"""Durable counters: what a backup added to the counters is moved into `MetricTally` in the
transaction that deletes it, and events that leave no row (a deletion and its outcome) are
counted there directly. One UPDATE per key, so concurrent processes add up correctly."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from backups.metrics.counts import Key, backup_counters, restore_counters, run_row_counters
from backups.models import Backup, MetricTally, Restore

DELETION_ATTEMPT = "velero_backup_deletion_attempt_total"
DELETION_SUCCESS = "velero_backup_deletion_success_total"
DELETION_FAILURE = "velero_backup_deletion_failure_total"


def add(values: dict[Key, float]) -> None:
    """Add each value to its tally row (created at 0 when missing)."""
    with transaction.atomic():
        for (name, schedule, le), value in values.items():
            if not value:
                continue
            rows = MetricTally.objects.filter(name=name, schedule=schedule, le=le)
            if rows.update(value=F("value") + value):
                continue
            try:
                with transaction.atomic():
                    MetricTally.objects.create(name=name, schedule=schedule, le=le, value=value)
            except IntegrityError:  # created meanwhile by another process
                rows.update(value=F("value") + value)


def count(name: str, schedule: str) -> None:
    add({(name, schedule, ""): 1})


def totals() -> dict[Key, float]:
    return {(t.name, t.schedule, t.le): t.value for t in MetricTally.objects.all()}


FOLD_PER_SCRAPE = 200


def retire_restore(restore: Restore) -> None:
    """Keep what a deleted restore counted (its pre_delete, in the deleting transaction)."""
    add(restore_counters(Restore.objects.filter(pk=restore.pk)))


def retire_backup(backup: Backup) -> None:
    """Keep what `backup` counted before its rows go (called on its pre_delete, inside the
    deleting transaction, while its blocks, hooks and batches still exist)."""
    rows = Backup.objects.filter(pk=backup.pk)
    folded = rows.filter(metrics_folded=True).exists()
    add({**backup_counters(rows), **({} if folded else run_row_counters(rows))})


def fold_ended(limit: int = FOLD_PER_SCRAPE) -> int:
    """Move the block, hook and batch counters of ended backups into the tally, once each (a
    conditional UPDATE per backup decides which process folds it; one aggregate for them all),
    so that a scrape reads only the running backups' rows however many ended ones are kept.
    Returns how many were folded."""
    ended = Backup.objects.filter(phase__in=Backup.TERMINAL, metrics_folded=False).order_by("pk")
    candidates = list(ended.values_list("pk", flat=True)[:limit])
    if not candidates:
        return 0
    with transaction.atomic():
        won = [
            pk
            for pk in candidates
            if Backup.objects.filter(pk=pk, metrics_folded=False).update(metrics_folded=True)
        ]
        if won:
            add(run_row_counters(Backup.objects.filter(pk__in=won)))
    return len(won)
