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
from backups.models import Backup, BackupDefinition, BackupLogEntry, BlockRun, HookRun

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


AUDIT_PER_PAGE = 50


def audit_entries(user="", action="", object_type="", object="", since=None, until=None) -> QuerySet:
    """Audit entries newest first, filtered: `user` and `object` match part of the name (`object`
    also an exact id), `action` and `object_type` exactly, dates as days in the server's zone."""
    from backups.models import AuditEntry

    entries = AuditEntry.objects.order_by("-time", "-id")
    if user:
        entries = entries.filter(username__icontains=user)
    if action:
        entries = entries.filter(action=action)
    if object_type:
        entries = entries.filter(object_type=object_type)
    if object:
        entries = entries.filter(Q(object_name__icontains=object) | Q(object_id=object))
    tz = timezone.get_current_timezone()
    if since:
        entries = entries.filter(time__gte=dt.datetime.combine(since, dt.time.min, tz))
    if until and until < dt.date.max:
        entries = entries.filter(time__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tz))
    return entries


def notification_deliveries() -> QuerySet:
    from backups.models import NotificationDelivery

    return NotificationDelivery.objects.order_by("-created", "-id").defer("payload")


def notification_targets() -> list:
    """Targets with their latest delivery (`last_delivery`), for Settings."""
    from backups.models import NotificationDelivery, NotificationTarget

    targets = list(NotificationTarget.objects.select_related("definition"))
    for target in targets:
        latest = NotificationDelivery.objects.filter(target=target).order_by("-created", "-id")
        target.last_delivery = latest.defer("payload").first()
    return targets
