"""Counter and histogram values computed from stored rows, one SQL aggregate per metric family, so
that every process (web, workers) answers the same and a restart loses nothing.

Each function takes a queryset and returns {(metric, schedule, le): value}: the collector runs them
over every row, and `tally.retire_backup` over one backup's rows just before they are deleted,
adding them to `MetricTally` so that the counters never go down. Histogram keys carry `le` (a
bucket's upper bound as Prometheus writes it, "+Inf" last) plus `_sum` and `_count`.
"""

from __future__ import annotations

from django.db.models import Count, F, FloatField, Func, Q, QuerySet, Sum
from django.db.models.lookups import LessThan, LessThanOrEqual

from backups.models import Backup, BlockBatch, BlockRun, HookRun, Restore

Key = tuple[str, str, str]
Phase = Backup.Phase

# Velero's backup_duration_seconds buckets: 1, 5, 10, 15, 30 minutes and 1, 2, 3, 4 hours.
BACKUP_DURATION_BUCKETS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0)
BLOCK_DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
HOOK_DURATION_BUCKETS = (0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

# Velero counts these per schedule when a backup ends; `attempt` when it starts running.
OUTCOMES = {
    "velero_backup_success_total": Phase.COMPLETED,
    "velero_backup_partial_failure_total": Phase.PARTIALLY_FAILED,
    "velero_backup_failure_total": Phase.FAILED,
    "velero_backup_validation_failure_total": Phase.FAILED_VALIDATION,
}
# A backup with a start and an end: Velero observes its duration when the run ends this way.
TIMED = (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED)


class Seconds(Func):
    """`end - start` in seconds, in the database's own arithmetic: Django's portable datetime
    subtraction calls a Python function per row on SQLite (32 s for 300,000 blocks, against
    0.2 s for julianday()). SQLite's is rounded to the millisecond: julianday() is a double of
    days, tens of microseconds off, enough to put a 61 s run in the 60 s bucket."""

    output_field = FloatField()
    arity = 2

    def __init__(self, end: str, start: str):
        super().__init__(F(end), F(start))

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s)) * 86400.0, 3)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="EXTRACT(EPOCH FROM (%(expressions)s))::float",
            arg_joiner=" - ",
            **extra,
        )


def le_text(bound: float) -> str:
    """A bucket bound as prometheus_client writes it (60.0, 0.1, +Inf)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def counted_backups(backups: QuerySet) -> QuerySet:
    """Backups run here: an imported one was counted by the Velero that made it."""
    return backups.filter(imported=False)


def backup_counters(backups: QuerySet) -> dict[Key, float]:
    """Velero's per-schedule backup counters and its duration histogram over `backups`.

    Attempts are backups whose dispatch was enqueued (Velero's RegisterBackupAttempt as the run
    starts); a backup cancelled in the queue is not one. The duration is whole seconds from start
    to completion, as Velero truncates it."""
    timed = Q(phase__in=TIMED, started__isnull=False, completed__isnull=False)
    backups = counted_backups(backups)
    took = Seconds("completed", "started")
    aggregates = {
        "velero_backup_attempt_total": Count("pk", filter=Q(attempt__gt=0)),
        "velero_backup_warning_total": Count("pk", filter=Q(phase__in=Backup.TERMINAL, warnings__gt=0)),
        **{name: Count("pk", filter=Q(phase=phase)) for name, phase in OUTCOMES.items()},
        "_count": Count("pk", filter=timed),
        "_sum": Sum(took, filter=timed),
    }
    for i, bound in enumerate(BACKUP_DURATION_BUCKETS):
        # Velero observes whole seconds: a 60.9 s backup is a 60 s one
        aggregates[f"_le{i}"] = Count("pk", filter=timed & Q(LessThan(took, bound + 1)))
    rows = backups.order_by().values("schedule_name").annotate(**aggregates)
    out: dict[Key, float] = {}
    histogram = "velero_backup_duration_seconds"
    for row in rows:
        schedule = row["schedule_name"]
        for name in ("velero_backup_attempt_total", "velero_backup_warning_total", *OUTCOMES):
            out[(name, schedule, "")] = row[name]
        for i, bound in enumerate(BACKUP_DURATION_BUCKETS):
            out[(f"{histogram}_bucket", schedule, le_text(bound))] = row[f"_le{i}"]
        out[(f"{histogram}_bucket", schedule, "+Inf")] = row["_count"]
        out[(f"{histogram}_count", schedule, "")] = row["_count"]
        out[(f"{histogram}_sum", schedule, "")] = float(row["_sum"] or 0)
    return out


def block_counters(blocks: QuerySet) -> dict[Key, float]:
    """veloweb_block_duration_seconds over blocks that ran to an end (done or failed)."""
    ran = Q(started__isnull=False, finished__isnull=False)
    took = Seconds("finished", "started")
    aggregates = {"_count": Count("pk", filter=ran), "_sum": Sum(took, filter=ran)}
    for i, bound in enumerate(BLOCK_DURATION_BUCKETS):
        aggregates[f"_le{i}"] = Count("pk", filter=ran & Q(LessThanOrEqual(took, bound)))
    row = blocks.order_by().aggregate(**aggregates)
    return _histogram("veloweb_block_duration_seconds", BLOCK_DURATION_BUCKETS, row, float(row["_sum"] or 0))


def hook_counters(hooks: QuerySet) -> dict[Key, float]:
    """veloweb_hook_duration_seconds over hooks that ran (a skipped hook has no duration)."""
    ran = Q(duration__isnull=False)
    aggregates = {"_count": Count("pk", filter=ran), "_sum": Sum("duration", filter=ran)}
    for i, bound in enumerate(HOOK_DURATION_BUCKETS):
        aggregates[f"_le{i}"] = Count("pk", filter=ran & Q(duration__lte=bound))
    row = hooks.order_by().aggregate(**aggregates)
    return _histogram("veloweb_hook_duration_seconds", HOOK_DURATION_BUCKETS, row, float(row["_sum"] or 0))


def handover_counters(batches: QuerySet) -> dict[Key, float]:
    """veloweb_lease_handovers_total: each claim of a batch after its first is a hand-over (its
    lease lapsed or its job died, and another job took it)."""
    row = batches.order_by().filter(attempts__gt=1).aggregate(n=Sum(F("attempts") - 1))
    return {("veloweb_lease_handovers_total", "", ""): float(row["n"] or 0)}


def _histogram(name: str, buckets: tuple[float, ...], row: dict, total: float) -> dict[Key, float]:
    out: dict[Key, float] = {
        (f"{name}_bucket", "", le_text(b)): row[f"_le{i}"] for i, b in enumerate(buckets)
    }
    out[(f"{name}_bucket", "", "+Inf")] = row["_count"]
    out[(f"{name}_count", "", "")] = row["_count"]
    out[(f"{name}_sum", "", "")] = total
    return out


def run_row_counters(backups: QuerySet) -> dict[Key, float]:
    """Veloweb's counters over the run rows of `backups` (blocks, hooks, batches)."""
    ids = backups.values("pk")
    return {
        **block_counters(BlockRun.objects.filter(backup__in=ids)),
        **hook_counters(HookRun.objects.filter(backup__in=ids)),
        **handover_counters(BlockBatch.objects.filter(backup__in=ids)),
    }


# Velero's restore counters (pkg/controller/restore_controller.go, restore_finalizer_controller.go):
# an attempt as the controller takes the restore up (a failed validation too), then its outcome.
RESTORE_OUTCOMES = {
    "velero_restore_success_total": Restore.Phase.COMPLETED,
    "velero_restore_partial_failure_total": Restore.Phase.PARTIALLY_FAILED,
    "velero_restore_failed_total": Restore.Phase.FAILED,
    "velero_restore_validation_failed_total": Restore.Phase.FAILED_VALIDATION,
}


def restore_counters(restores: QuerySet) -> dict[Key, float]:
    """Velero's restore counters over `restores`. Their `schedule` label is Velero's
    restore.spec.scheduleName, set only by `velero restore create --from-schedule`: a Veloweb
    restore names a backup, never a schedule, so it is always ""."""
    taken_up = Q(attempt__gt=0) | Q(phase=Restore.Phase.FAILED_VALIDATION)
    row = restores.order_by().aggregate(
        velero_restore_attempt_total=Count("pk", filter=taken_up),
        **{name: Count("pk", filter=Q(phase=phase)) for name, phase in RESTORE_OUTCOMES.items()},
    )
    return {(name, "", ""): float(value) for name, value in row.items()}
