"""The `/metrics` collector: Velero's metrics (pkg/metrics/metrics.go: names, types, help texts,
labels and buckets) and Veloweb's own under `veloweb_`, read from the database and Redis at each
scrape. Counters are the live rows' counts plus `MetricTally` (what deleted rows had counted).

How each of Velero's figures maps onto Veloweb's rows:
- schedule label: the backup's `schedule_name` (Velero's velero.io/schedule-name label), "" for
  a backup run by hand; every scheduled definition and "" get their zero series, as Velero's
  InitSchedule makes them (backup_last_status starts at 1);
- counters: backups by phase (attempts: dispatch enqueued), deletions from the tally;
- per-schedule gauges (tarball size, items, item errors, last status) from the schedule's latest
  ended backup, the last successful timestamp from its latest Completed one;
- velero_csi_snapshot_*_total{schedule, backupName}: each ended backup that took CSI snapshots;
- velero_backup_location_status_gauge: each checked location's last check (1 available).
Velero's native volume snapshots do not exist here: their counters stay at zero. Restores:
velero_restore_total and the per-outcome counters, all under schedule "" (a restore names a
backup, not a schedule: Velero's spec.scheduleName is set only by --from-schedule).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import django_rq
from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from backups.engine.cron_schedule import ScheduleError, parse_schedule
from backups.metrics import counts, tally
from backups.models import (
    Backup,
    BackupDefinition,
    BlockBatch,
    BlockRun,
    OwedPostHooks,
    Restore,
    StorageLocation,
)

Phase = Backup.Phase
SCHEDULE, BACKUP_NAME, LOCATION = "schedule", "backupName", "backup_location_name"

# name -> help, in Velero's words
VELERO_COUNTERS = {
    "velero_backup_attempt_total": "Total number of attempted backups",
    "velero_backup_success_total": "Total number of successful backups",
    "velero_backup_partial_failure_total": "Total number of partially failed backups",
    "velero_backup_failure_total": "Total number of failed backups",
    "velero_backup_validation_failure_total": "Total number of validation failed backups",
    "velero_backup_deletion_attempt_total": "Total number of attempted backup deletions",
    "velero_backup_deletion_success_total": "Total number of successful backup deletions",
    "velero_backup_deletion_failure_total": "Total number of failed backup deletions",
    "velero_backup_warning_total": "Total number of warned backups",
    "velero_volume_snapshot_attempt_total": "Total number of attempted volume snapshots",
    "velero_volume_snapshot_success_total": "Total number of successful volume snapshots",
    "velero_volume_snapshot_failure_total": "Total number of failed volume snapshots",
}
RESTORE_COUNTERS = {
    "velero_restore_attempt_total": "Total number of attempted restores",
    "velero_restore_success_total": "Total number of successful restores",
    "velero_restore_partial_failure_total": "Total number of partially failed restores",
    "velero_restore_failed_total": "Total number of failed restores",
    "velero_restore_validation_failed_total": "Total number of failed restores failing validations",
}
CSI_COUNTERS = {
    "velero_csi_snapshot_attempt_total": "Total number of CSI attempted volume snapshots",
    "velero_csi_snapshot_success_total": "Total number of CSI successful volume snapshots",
    "velero_csi_snapshot_failure_total": "Total number of CSI failed volume snapshots",
}
SCHEDULE_GAUGES = {
    "velero_backup_tarball_size_bytes": "Size, in bytes, of a backup",
    "velero_backup_last_successful_timestamp": (
        "Last time a backup ran successfully, Unix timestamp in seconds"
    ),
    "velero_backup_items_total": "Total number of items backed up",
    "velero_backup_items_errors": "Total number of errors encountered during backup",
    "velero_backup_last_status": "Last status of the backup. A value of 1 is success, 0 is failure",
    "velero_schedule_expected_interval_seconds": (
        "Expected interval between consecutive scheduled backups, in seconds"
    ),
}
# the schedule's zero series (Velero's InitSchedule); backup_last_status starts at 1
INITIAL = {
    **{name: 0.0 for name in VELERO_COUNTERS},
    "velero_backup_items_total": 0.0,
    "velero_backup_items_errors": 0.0,
    "velero_backup_last_status": 1.0,
}
ENDED_RUNS = (Phase.COMPLETED, Phase.PARTIALLY_FAILED, Phase.FAILED)
LAST_STATUS_PHASES = (*ENDED_RUNS, Phase.FAILED_VALIDATION)
RUNNING_BLOCK_STATES = (
    BlockRun.State.PRE_HOOKS,
    BlockRun.State.ITEMS,
    BlockRun.State.SNAPSHOTS,
    BlockRun.State.POST_HOOKS,
)


class DatabaseCollector(Collector):
    """Registered on a registry of its own by the `/metrics` view; `collect` reads afresh."""

    def collect(self) -> Iterator[Metric]:
        values = live_counters()
        for key, value in tally.totals().items():
            values[key] = values.get(key, 0.0) + value
        schedules = scheduled_definitions()
        yield from velero_metrics(values, schedules)
        yield from veloweb_metrics(values)


def live_counters() -> dict[counts.Key, float]:
    """The counters of the rows kept: every backup's outcome, and the run rows of the backups
    not folded into the tally yet (running ones, and ended ones beyond this scrape's fold)."""
    tally.fold_ended()
    return {
        **counts.backup_counters(Backup.objects.all()),
        **counts.run_row_counters(Backup.objects.filter(metrics_folded=False)),
        **counts.restore_counters(Restore.objects.all()),
    }


def scheduled_definitions() -> dict[str, str]:
    """Definition name -> cron expression, for every definition with a schedule."""
    return dict(BackupDefinition.objects.exclude(schedule="").values_list("name", "schedule"))


def velero_metrics(values: dict[counts.Key, float], schedules: dict[str, str]) -> Iterator[Metric]:
    known = {"", *schedules} | {schedule for (_, schedule, _) in values}
    gauges = schedule_gauges(schedules)
    for name in ("velero_backup_items_total", "velero_backup_items_errors", "velero_backup_last_status"):
        for schedule in known:
            gauges[name].setdefault(schedule, INITIAL[name])

    total = GaugeMetricFamily("velero_backup_total", "Current number of existent backups")
    total.add_metric([], Backup.objects.count())
    yield total
    for name, help_text in VELERO_COUNTERS.items():
        family = CounterMetricFamily(name, help_text, labels=[SCHEDULE])
        for schedule in sorted(known):
            family.add_metric([schedule], values.get((name, schedule, ""), 0.0))
        yield family
    yield duration_histogram(values, known)
    for name, help_text in SCHEDULE_GAUGES.items():
        family = GaugeMetricFamily(name, help_text, labels=[SCHEDULE])
        for schedule, value in sorted(gauges[name].items()):
            family.add_metric([schedule], value)
        yield family
    yield from csi_counters(known)
    restores = GaugeMetricFamily("velero_restore_total", "Current number of existent restores")
    restores.add_metric([], Restore.objects.count())
    yield restores
    for name, help_text in RESTORE_COUNTERS.items():  # "" has the counts; schedules their zero series
        family = CounterMetricFamily(name, help_text, labels=[SCHEDULE])
        for schedule in sorted(known):
            family.add_metric([schedule], values.get((name, schedule, ""), 0.0))
        yield family
    status = GaugeMetricFamily(
        "velero_backup_location_status_gauge",
        "The status of backup location.  A value of 1 is available, 0 is unavailable",
        labels=[LOCATION],
    )
    for name, available in StorageLocation.objects.filter(available__isnull=False).values_list(
        "name", "available"
    ):
        status.add_metric([name], 1.0 if available else 0.0)
    yield status


def duration_histogram(values: dict[counts.Key, float], known: set[str]) -> HistogramMetricFamily:
    name = "velero_backup_duration_seconds"
    family = HistogramMetricFamily(name, "Time taken to complete backup, in seconds", labels=[SCHEDULE])
    bounds = [counts.le_text(b) for b in counts.BACKUP_DURATION_BUCKETS] + ["+Inf"]
    for schedule in sorted(known):
        buckets = [(le, values.get((f"{name}_bucket", schedule, le), 0.0)) for le in bounds]
        family.add_metric([schedule], buckets, values.get((f"{name}_sum", schedule, ""), 0.0))
    return family


def schedule_gauges(schedules: dict[str, str]) -> dict[str, dict[str, float]]:
    """Velero's per-schedule gauges, set by its controllers from the latest backup of each
    schedule (one query per schedule label: there are as many as schedules, not backups)."""
    gauges: dict[str, dict[str, float]] = defaultdict(dict)
    backups = counts.counted_backups(Backup.objects.all())
    labels = backups.order_by().values_list("schedule_name", flat=True).distinct()
    for schedule in labels:
        mine = backups.filter(schedule_name=schedule).order_by("-completed", "-created", "-pk")
        if sized := mine.filter(phase__in=(Phase.COMPLETED, Phase.PARTIALLY_FAILED)).first():
            gauges["velero_backup_tarball_size_bytes"][schedule] = float(sized.size_bytes)
        if ended := mine.filter(phase__in=ENDED_RUNS).first():
            gauges["velero_backup_items_total"][schedule] = float(ended.total_items)
            gauges["velero_backup_items_errors"][schedule] = float(ended.errors)
        last = backups.filter(schedule_name=schedule, phase__in=LAST_STATUS_PHASES)
        if latest := last.order_by("-created", "-pk").first():
            gauges["velero_backup_last_status"][schedule] = 1.0 if latest.phase == Phase.COMPLETED else 0.0
    succeeded = (
        backups.filter(phase=Phase.COMPLETED, completed__isnull=False).order_by().values("schedule_name")
    )
    for row in succeeded.annotate(last=Max("completed")):
        gauges["velero_backup_last_successful_timestamp"][row["schedule_name"]] = row["last"].timestamp()
    now = timezone.now()
    for name, expression in schedules.items():
        try:
            cron = parse_schedule(expression)
        except ScheduleError:
            continue  # Velero sets it only for a valid expression
        first = cron.next(now)
        second = cron.next(first) if first else None
        if first and second:
            gauges["velero_schedule_expected_interval_seconds"][name] = (second - first).total_seconds()
    return gauges


def csi_counters(known: set[str]) -> Iterator[Metric]:
    families = {
        name: CounterMetricFamily(name, text, labels=[SCHEDULE, BACKUP_NAME])
        for name, text in CSI_COUNTERS.items()
    }
    attempt, success, failure = families.values()
    for schedule in sorted(known):  # InitSchedule's series, backupName ""
        for family in families.values():
            family.add_metric([schedule, ""], 0.0)
    took = counts.counted_backups(Backup.objects.filter(phase__in=Backup.TERMINAL, snapshots_attempted__gt=0))
    rows = took.order_by("schedule_name", "name").values_list(
        "schedule_name", "name", "snapshots_attempted", "snapshots_completed"
    )
    for schedule, name, attempted, completed in rows.iterator():
        attempt.add_metric([schedule, name], attempted)
        success.add_metric([schedule, name], completed)
        failure.add_metric([schedule, name], attempted - completed)
    yield from families.values()


def veloweb_metrics(values: dict[counts.Key, float]) -> Iterator[Metric]:
    depth = GaugeMetricFamily("veloweb_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
    for queue in settings.RQ_QUEUES:
        depth.add_metric([queue], django_rq.get_queue(queue).count)
    yield depth
    running = GaugeMetricFamily(
        "veloweb_running_blocks", "Blocks of backups and restores running now (hooks, items or snapshots)"
    )
    # the runs' rows by their run's phase (indexed), not a scan of every block kept
    running_backups = Backup.objects.filter(phase__in=Backup.RUNNING).values("pk")
    running_restores = Restore.objects.filter(phase__in=Restore.RUNNING).values("pk")
    of_running = Q(backup__in=running_backups) | Q(restore__in=running_restores)
    blocks = BlockRun.objects.filter(of_running, state__in=RUNNING_BLOCK_STATES)
    running.add_metric([], blocks.count())
    yield running
    lanes = GaugeMetricFamily("veloweb_lanes_busy", "Lanes running a batch of a backup or restore now")
    batches = BlockBatch.objects.filter(of_running, state=BlockBatch.State.RUNNING)
    lanes.add_metric([], batches.count())
    yield lanes
    handovers = CounterMetricFamily(
        "veloweb_lease_handovers_total",
        "Backup batches taken over by another job after their lease lapsed or job died",
    )
    handovers.add_metric([], values.get(("veloweb_lease_handovers_total", "", ""), 0.0))
    yield handovers
    yield plain_histogram(
        values,
        "veloweb_block_duration_seconds",
        "Time a backup's ItemBlock took, hooks included",
        counts.BLOCK_DURATION_BUCKETS,
    )
    yield plain_histogram(
        values,
        "veloweb_hook_duration_seconds",
        "Time a backup hook command took",
        counts.HOOK_DURATION_BUCKETS,
    )
    freeze = GaugeMetricFamily(
        "veloweb_longest_freeze_seconds",
        "How long the pod frozen longest now has waited for its post-hooks (0 when none is)",
    )
    oldest = OwedPostHooks.objects.aggregate(oldest=Min("created"))["oldest"]
    freeze.add_metric([], max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0)
    yield freeze
    backups = GaugeMetricFamily("veloweb_backups", "Backups by phase", labels=["phase"])
    by_phase = dict(Backup.objects.order_by().values_list("phase").annotate(n=Count("pk")))
    for phase in Phase.values:
        backups.add_metric([phase], by_phase.get(phase, 0))
    yield backups


def plain_histogram(
    values: dict[counts.Key, float], name: str, help_text: str, bounds
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, help_text)
    les = [counts.le_text(b) for b in bounds] + ["+Inf"]
    family.add_metric(
        [],
        [(le, values.get((f"{name}_bucket", "", le), 0.0)) for le in les],
        values.get((f"{name}_sum", "", ""), 0.0),
    )
    return family
