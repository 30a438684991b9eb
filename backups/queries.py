"""Read queries of the dashboard, one function per question (views and the consumer call these)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from backups.converters import MAX_ID
from backups.models import (
    Backup,
    BackupDefinition,
    BackupLogEntry,
    BlockRun,
    HookRun,
    Restore,
    RestoreLogEntry,
    RestoreTier,
)

BACKUPS_PER_PAGE = 25
BLOCKS_PER_PAGE = 100
LAST_BLOCKS_PAGE = (2**31 - 1) // BLOCKS_PER_PAGE + 1  # block indexes are 32-bit columns
HOOKS_SHOWN = 100
LOG_LINES_SHOWN = 50


def definitions_with_last_backup() -> QuerySet:
    """Definitions by name, each with its newest backup's id, name and phase (`last_backup_*`)."""
    last = Backup.objects.filter(definition=OuterRef("pk")).order_by("-created", "-id")
    return BackupDefinition.objects.select_related("cluster").annotate(
        last_backup_id=Subquery(last.values("pk")[:1]),
        last_backup_name=Subquery(last.values("name")[:1]),
        last_backup_phase=Subquery(last.values("phase")[:1]),
    )


def backup_history(q="", phase="", cluster=None, namespace="", since=None, until=None) -> QuerySet:
    """Backups newest first, filtered. A namespace matches backups naming it or taking all namespaces."""
    backups = Backup.objects.select_related("cluster").order_by("-created", "-id")
    if q:
        backups = backups.filter(name__icontains=q)
    if phase:
        backups = backups.filter(phase=phase)
    if cluster:
        backups = backups.filter(cluster=cluster)
    if namespace:
        backups = backups.filter(
            Q(included_namespaces__icontains=f'"{namespace}"')
            | Q(included_namespaces=[])
            | Q(included_namespaces__icontains='"*"')
        ).exclude(excluded_namespaces__icontains=f'"{namespace}"')
    tz = timezone.get_current_timezone()
    if since:
        backups = backups.filter(created__gte=dt.datetime.combine(since, dt.time.min, tz))
    if until and until < dt.date.max:  # the calendar's last day has no day after it: no upper bound
        backups = backups.filter(
            created__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tz)
        )
    return backups


def object_id(text: str | None) -> int | None:
    """The id in a query string (`?from=12`), or None for anything else: words, signs, exponents,
    other scripts' digits, numbers no database id can be (a 500 when handed to the query)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def page_of(items, number, per_page: int):
    return Paginator(items, per_page).get_page(number)


def blocks_page(backup: Backup, number):
    return page_of(BlockRun.objects.filter(backup=backup).order_by("index"), number, BLOCKS_PER_PAGE)


def page_range(page_number: int) -> range:
    """The block indexes shown on blocks page `page_number` (1-based)."""
    start = (max(1, page_number) - 1) * BLOCKS_PER_PAGE
    return range(start, start + BLOCKS_PER_PAGE)


def blocks_by_index(backup_id: int, indexes) -> list[BlockRun]:
    return list(BlockRun.objects.filter(backup_id=backup_id, index__in=list(indexes)).order_by("index"))


def hook_timeline(backup: Backup) -> list[HookRun]:
    """The latest hook runs, oldest first."""
    latest = HookRun.objects.filter(backup=backup).order_by("-started", "-id")[:HOOKS_SHOWN]
    return list(reversed(latest))


def log_tail(backup: Backup) -> list[BackupLogEntry]:
    latest = BackupLogEntry.objects.filter(backup=backup).order_by("-time", "-id")[:LOG_LINES_SHOWN]
    return list(reversed(latest))


def problems_by_namespace(backup: Backup) -> list[dict]:
    """Errors and warnings counted per namespace ("" is cluster scope), most errors first."""
    rows = (
        BackupLogEntry.objects.filter(backup=backup)
        .values("namespace")
        .annotate(
            errors=Count("id", filter=Q(level="error")),
            warnings=Count("id", filter=Q(level="warning")),
        )
        .order_by("-errors", "-warnings", "namespace")
    )
    return list(rows)


@dataclass
class Progress:
    items_done: int
    items_total: int
    blocks_done: int
    blocks_total: int
    percent: int
    eta_seconds: int | None
    elapsed_seconds: int | None


def progress_of(backup: Backup, now=None) -> Progress:
    """Counters as a percentage (by items, else blocks) and an ETA from the item rate so far."""
    now = now or timezone.now()
    end = backup.completed or now
    elapsed = (end - backup.started).total_seconds() if backup.started else None
    done, total = backup.items_backed_up, backup.total_items
    if not total:
        done, total = backup.blocks_done, backup.total_blocks
    ended = backup.is_terminal and backup.phase != Backup.Phase.CANCELLED  # a cancel shows how far it got
    percent = 100 if ended else (int(100 * done / total) if total else 0)
    eta = None
    if not backup.is_terminal and elapsed and done and total > done:
        eta = int(elapsed * (total - done) / done)
    return Progress(
        items_done=backup.items_backed_up,
        items_total=backup.total_items,
        blocks_done=backup.blocks_done,
        blocks_total=backup.total_blocks,
        percent=min(100, percent),
        eta_seconds=eta,
        elapsed_seconds=int(elapsed) if elapsed is not None else None,
    )


def resource_list(backup: Backup) -> dict[str, list[str]]:
    """Velero's `<name>-resource-list.json.gz` from the backup's storage location."""
    from backups.engine.velero_format.layout import resource_list_key

    with backup.storage_location.store().open(resource_list_key(backup.name)) as raw:
        return json.loads(gzip.decompress(raw.read()))


def browse_resources(listing: dict[str, list[str]], namespace: str = "", resource: str = ""):
    """Counts per namespace and per resource type, and the entries matching both filters.

    The namespace "-" selects cluster-scoped entries."""
    wanted = "" if namespace == "-" else namespace
    namespaces: dict[str, int] = {}
    resources: dict[str, int] = {}
    entries = []
    for kind, names in listing.items():
        for entry in names:
            ns = entry.split("/", 1)[0] if "/" in entry else ""
            namespaces[ns] = namespaces.get(ns, 0) + 1
            if namespace and ns != wanted:
                continue
            resources[kind] = resources.get(kind, 0) + 1
            if not resource or resource == kind:
                entries.append((kind, entry))
    return sorted(namespaces.items()), sorted(resources.items()), entries


# --- restores -----------------------------------------------------------------------------------

RESTORES_PER_PAGE = 25


def restore_history(q: str = "", phase: str = "", backup: str = "") -> QuerySet:
    """Restores newest first, by name, phase and backup."""
    restores = Restore.objects.select_related("cluster").order_by("-created", "-id")
    if q:
        restores = restores.filter(name__icontains=q)
    if phase:
        restores = restores.filter(phase=phase)
    if backup:
        restores = restores.filter(backup_name=backup)
    return restores


def restore_tiers(restore: Restore) -> list[RestoreTier]:
    return list(RestoreTier.objects.filter(restore=restore).order_by("index"))


def restore_hooks(restore: Restore) -> list[HookRun]:
    latest = HookRun.objects.filter(run_kind="restore", run_id=restore.pk).order_by("-started", "-id")
    return list(reversed(latest[:HOOKS_SHOWN]))


def restore_log_tail(restore: Restore) -> list[RestoreLogEntry]:
    latest = RestoreLogEntry.objects.filter(restore=restore).order_by("-time", "-id")[:LOG_LINES_SHOWN]
    return list(reversed(latest))


def restore_problem_counts(restore: Restore) -> list[dict]:
    """Errors and warnings counted per namespace ("" is cluster scope), most errors first."""
    rows = (
        RestoreLogEntry.objects.filter(restore=restore)
        .values("namespace")
        .annotate(
            errors=Count("id", filter=Q(level="error")),
            warnings=Count("id", filter=Q(level="warning")),
        )
        .order_by("-errors", "-warnings", "namespace")
    )
    return list(rows)


def restore_problems_by_scope(restore: Restore, level: str, limit: int = 1000) -> dict[str, list[str]]:
    """A level's messages as `velero restore describe` groups them: Velero, Cluster, then each
    namespace (the first `limit` messages)."""
    scopes: dict[str, list[str]] = {}
    entries = RestoreLogEntry.objects.filter(restore=restore, level=level).order_by("namespace", "time", "id")
    for entry in entries[:limit]:
        if entry.resource == "velero":
            scope = "Velero"
        elif not entry.namespace:
            scope = "Cluster"
        else:
            scope = f"Namespaces {entry.namespace}"
        scopes.setdefault(scope, []).append(entry.message)
    order = {"Velero": 0, "Cluster": 1}
    return dict(sorted(scopes.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])))


def restore_progress(restore: Restore) -> Progress:
    """Items done of the items to restore, as a percentage, with an ETA from the rate so far."""
    now = timezone.now()
    end = restore.completed or now
    elapsed = (end - restore.started).total_seconds() if restore.started else None
    done = restore.items_restored + restore.items_skipped + restore.items_failed
    total = restore.total_items
    ended = restore.is_terminal and restore.phase != Restore.Phase.CANCELLED
    percent = 100 if ended else (int(100 * done / total) if total else 0)
    eta = None
    if not restore.is_terminal and elapsed and done and total > done:
        eta = int(elapsed * (total - done) / done)
    return Progress(
        items_done=done,
        items_total=total,
        blocks_done=max(0, restore.current_tier + 1),
        blocks_total=restore.total_tiers,
        percent=min(100, percent),
        eta_seconds=eta,
        elapsed_seconds=int(elapsed) if elapsed is not None else None,
    )


def dry_run_items(items: list[dict], action: str = "", namespace: str = "", resource: str = "") -> list[dict]:
    """A dry run's items filtered by action, namespace ("-" for cluster scope) and resource."""
    wanted_ns = "" if namespace == "-" else namespace

    def resource_of(item: dict) -> str:
        return f"{item['resource']}.{item['group']}" if item["group"] else item["resource"]

    return [
        item
        for item in items
        if (not action or item["action"] == action)
        and (not namespace or item["namespace"] == wanted_ns)
        and (not resource or resource_of(item) == resource)
    ]
