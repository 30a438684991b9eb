"""Read queries of the dashboard, one function per question (views and the consumer call these)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
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


# The history's sortable columns: ?sort=<key> (ascending) or -<key>, stable by id.
HISTORY_SORTS = {
    "name": "name",
    "phase": "phase",
    "cluster": "cluster__name",
    "started": "started",
    "duration": "duration",
    "items": "items_backed_up",
    "errors": "errors",
    "warnings": "warnings",
    "size": "size_bytes",
    "expires": "expiration",
}
DEFAULT_SORT = "-created"


def history_sort(text: str | None) -> str:
    """The sort asked for (`name`, `-size`...), or "" (newest first) for anything else."""
    key = (text or "").removeprefix("-")
    return text if key in HISTORY_SORTS and text else ""


def backup_history(
    q="", phase="", cluster=None, namespace="", since=None, until=None, sort="", now=None
) -> QuerySet:
    """Backups filtered, newest first or by `sort` (ties by id, so pages never overlap). The
    namespace filter matches as the backups did (`NamespaceFilter.may_hold`: globs both ways)."""
    backups = Backup.objects.select_related("cluster")
    if q:
        backups = backups.filter(name__icontains=q)
    if phase:
        backups = backups.filter(phase=phase)
    if cluster:
        backups = backups.filter(cluster=cluster)
    tz = timezone.get_current_timezone()
    if since:
        backups = backups.filter(created__gte=dt.datetime.combine(since, dt.time.min, tz))
    if until and until < dt.date.max:  # the calendar's last day has no day after it: no upper bound
        backups = backups.filter(
            created__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tz)
        )
    if namespace:
        backups = _holding_namespace(backups, namespace.strip())
    return _sorted(backups, history_sort(sort), now or timezone.now())


MAX_NAMESPACE_SHAPES = 500  # distinct (included, excluded) lists decided one by one


def _holding_namespace(backups: QuerySet, namespace: str) -> QuerySet:
    """The backups that may hold `namespace` (a name or a glob), decided by the engine's own
    matching. Backups share few namespace lists (a definition's backups all have its own), so each
    distinct (included, excluded) pair is decided once and the database keeps the rows of the
    pairs that match; past MAX_NAMESPACE_SHAPES pairs, each row is decided in one streamed pass
    and the smaller of the kept and the dropped ids goes back to the database."""
    from backups.engine.planning.filters import NamespaceFilter

    pairs = backups.order_by().values_list("included_namespaces", "excluded_namespaces").distinct()
    shapes = list(pairs[: MAX_NAMESPACE_SHAPES + 1])
    if len(shapes) <= MAX_NAMESPACE_SHAPES:
        matching = Q(pk__in=[])
        for includes, excludes in shapes:
            if NamespaceFilter.of(includes, excludes).may_hold(namespace):
                matching |= Q(included_namespaces=includes, excluded_namespaces=excludes)
        return backups.filter(matching)
    kept, dropped = [], []
    rows = backups.values_list("pk", "included_namespaces", "excluded_namespaces")
    for pk, includes, excludes in rows.iterator(chunk_size=2000):
        holds = NamespaceFilter.of(includes, excludes).may_hold(namespace)
        (kept if holds else dropped).append(pk)
    return backups.filter(pk__in=kept) if len(kept) <= len(dropped) else backups.exclude(pk__in=dropped)


def _sorted(backups: QuerySet, sort: str, now) -> QuerySet:
    if not sort:
        return backups.order_by("-created", "-id")
    key = sort.removeprefix("-")
    descending = sort.startswith("-")
    if key == "duration":  # a running backup's duration so far; not started: none, sorted last
        backups = backups.annotate(
            duration=ExpressionWrapper(
                Coalesce(F("completed"), Value(now)) - F("started"), output_field=DurationField()
            )
        )
    field = F(HISTORY_SORTS[key])
    order = field.desc(nulls_last=True) if descending else field.asc(nulls_last=True)
    return backups.order_by(order, "-id" if descending else "id")


def object_id(text: str | None) -> int | None:
    """The id in a query string (`?from=12`), or None for anything else: words, signs, exponents,
    other scripts' digits, numbers no database id can be (a 500 when handed to the query)."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def page_of(items, number, per_page: int):
    return Paginator(items, per_page).get_page(number)


BLOCK_STATES = [state for state, _ in BlockRun.State.choices]
RUNNING_STATES = (
    BlockRun.State.PRE_HOOKS,
    BlockRun.State.ITEMS,
    BlockRun.State.SNAPSHOTS,
    BlockRun.State.POST_HOOKS,
)


@dataclass(frozen=True)
class BlockFilter:
    """The blocks table's filter: a state ("running" is any step between queued and the end)
    and text found in the block's first item. Unknown states are ignored, text is cut to 200."""

    state: str = ""
    q: str = ""

    @classmethod
    def of(cls, params) -> BlockFilter:
        state = params.get("state", "") or ""
        if state not in BLOCK_STATES and state != "running":
            state = ""
        return cls(state=state, q=(params.get("q", "") or "").strip()[:200])

    @property
    def active(self) -> bool:
        return bool(self.state or self.q)

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in (("state", self.state), ("q", self.q)) if v})


def filtered_blocks(backup_id: int, where: BlockFilter) -> QuerySet:
    blocks = BlockRun.objects.filter(backup_id=backup_id)
    if where.state == "running":
        blocks = blocks.filter(state__in=RUNNING_STATES)
    elif where.state:
        blocks = blocks.filter(state=where.state)
    if where.q:
        blocks = blocks.filter(first_item__icontains=where.q)
    return blocks.order_by("index")


def blocks_page(backup: Backup, number, where: BlockFilter | None = None):
    """One page of the blocks, filtered server-side (a 300,000-block backup stays usable)."""
    return page_of(filtered_blocks(backup.pk, where or BlockFilter()), number, BLOCKS_PER_PAGE)


def filtered_page_rows(backup_id: int, page_number: int, where: BlockFilter) -> list[BlockRun]:
    """The rows of page `page_number` of the filtered blocks (the socket re-renders them)."""
    start = (max(1, page_number) - 1) * BLOCKS_PER_PAGE
    return list(filtered_blocks(backup_id, where)[start : start + BLOCKS_PER_PAGE])


def running_hooks(backup: Backup, limit: int = 20) -> list[BlockRun]:
    """Blocks in their hooks with the hook running now (pod, container, command, since)."""
    in_hooks = BlockRun.objects.filter(
        backup=backup, state__in=(BlockRun.State.PRE_HOOKS, BlockRun.State.POST_HOOKS)
    ).exclude(step_detail=None)
    return list(in_hooks.order_by("index")[:limit])


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


PROBLEM_LEVELS = ("warning", "error")


def log_tail(backup: Backup) -> list[BackupLogEntry]:
    """The latest warnings and errors (the full log page has every line)."""
    problems = BackupLogEntry.objects.filter(backup=backup, level__in=PROBLEM_LEVELS)
    latest = problems.order_by("-time", "-id")[:LOG_LINES_SHOWN]
    return list(reversed(latest))


def problems_by_namespace(backup: Backup) -> list[dict]:
    """Errors and warnings counted per namespace ("" is cluster scope), most errors first."""
    rows = (
        BackupLogEntry.objects.filter(backup=backup, level__in=PROBLEM_LEVELS)
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
    started_at: float | None = None  # epoch seconds: the page counts the elapsed time from it
    now: float = 0.0  # epoch seconds of this render: the page's clock offset
    eta_basis: str = ""  # what the ETA is made of, said next to it


@dataclass
class HookWork:
    """Hook work left: pods whose hooks have not started, and the seconds they and the
    running hooks are expected to take (observed per pod so far, else the hooks' timeouts)."""

    pods_left: int
    seconds: float
    longest_running_left: float


def hook_work_left(backup: Backup, now: float) -> HookWork | None:
    """None when the plan has no hooked pods (or was made before this was recorded)."""
    hooked = int((backup.timings or {}).get("hooked_pods") or 0)
    if not hooked:
        return None
    runs = HookRun.objects.filter(backup=backup)
    started = runs.values("namespace", "pod").distinct().count()
    observed = runs.aggregate(total=Sum("duration"))["total"] or 0.0
    running = running_hooks(backup, limit=1000)
    timeouts = [float((b.step_detail or {}).get("timeout") or 0) for b in running]
    per_pod = observed / started if started and observed else (max(timeouts) if timeouts else 30.0)
    left_running = [
        max(0.0, per_pod - (now - float((b.step_detail or {}).get("since") or now))) for b in running
    ]
    # pods of the blocks running now: their hooks began (hook runs are recorded with their batch)
    active = BlockRun.objects.filter(backup=backup, state__in=RUNNING_STATES, pods__gt=0)
    in_flight = min(max(0, hooked - started), active.aggregate(pods=Sum("pods"))["pods"] or 0)
    waiting = max(0, hooked - started - in_flight)
    return HookWork(
        pods_left=waiting + in_flight,
        seconds=waiting * per_pod + sum(left_running),
        longest_running_left=max(left_running, default=0.0),
    )


def _eta(backup: Backup, elapsed: float, now: float) -> tuple[int | None, str]:
    """Seconds left from the observed rate and the work left: items left at the item rate
    since planning ended, and hook work left spread over the backup's workers; the larger."""
    planning = float((backup.timings or {}).get("planning") or 0.0)
    running_for = max(0.0, elapsed - planning)
    done, total = backup.items_backed_up, backup.total_items
    if not total:
        done, total = backup.blocks_done, backup.total_blocks
    items_eta = None
    if done and total > done and running_for:
        items_eta = running_for * (total - done) / done
    hooks = hook_work_left(backup, now) if total else None
    hooks_eta = None
    if hooks and hooks.pods_left:
        lanes = max(1, min(backup.workers or 1, hooks.pods_left))
        hooks_eta = max(hooks.seconds / lanes, hooks.longest_running_left)
    if items_eta is None and hooks_eta is None:
        return None, ""
    if hooks_eta is not None and (items_eta is None or hooks_eta >= items_eta):
        return int(round(hooks_eta)), f"{hooks.pods_left} hooked pods left" if hooks else ""
    return int(round(items_eta or 0)), f"{total - done} items left"


def progress_of(backup: Backup, now=None) -> Progress:
    """Counters as a percentage (by items, else blocks) and an ETA from the rate so far and the
    work left (items and hooks, `_eta`)."""
    now = now or timezone.now()
    end = backup.completed or now
    elapsed = (end - backup.started).total_seconds() if backup.started else None
    done, total = backup.items_backed_up, backup.total_items
    if not total:
        done, total = backup.blocks_done, backup.total_blocks
    ended = backup.is_terminal and backup.phase != Backup.Phase.CANCELLED  # a cancel shows how far it got
    percent = 100 if ended else (int(100 * done / total) if total else 0)
    eta, basis = None, ""
    if not backup.is_terminal and elapsed and backup.phase != Backup.Phase.FINALIZING:
        eta, basis = _eta(backup, elapsed, now.timestamp())
    return Progress(
        items_done=backup.items_backed_up,
        items_total=backup.total_items,
        blocks_done=backup.blocks_done,
        blocks_total=backup.total_blocks,
        percent=min(100, percent),
        eta_seconds=eta,
        elapsed_seconds=int(elapsed) if elapsed is not None else None,
        started_at=backup.started.timestamp() if backup.started else None,
        now=now.timestamp(),
        eta_basis=basis,
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


LOG_LINES_PER_PAGE = 200
LOG_LEVELS = ("error", "warning", "info", "debug")  # most severe first


@dataclass(frozen=True)
class LogFilter:
    """The full log's filter: a level (that level and the more severe ones; "" is all) and
    text found in the message or the resource, namespace or name. Junk is ignored."""

    level: str = ""
    q: str = ""

    @classmethod
    def of(cls, params) -> LogFilter:
        level = params.get("level", "") or ""
        return cls(level=level if level in LOG_LEVELS else "", q=(params.get("q", "") or "").strip()[:200])

    @property
    def levels(self) -> tuple[str, ...]:
        return LOG_LEVELS[: LOG_LEVELS.index(self.level) + 1] if self.level else ()

    def query(self) -> str:
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in (("level", self.level), ("q", self.q)) if v})


def log_lines(backup_id: int, where: LogFilter) -> QuerySet:
    """The backup's log lines in the order recorded, filtered in the database."""
    lines = BackupLogEntry.objects.filter(backup_id=backup_id)
    if where.levels:
        lines = lines.filter(level__in=where.levels)
    if where.q:
        q = where.q
        lines = lines.filter(
            Q(message__icontains=q)
            | Q(resource__icontains=q)
            | Q(namespace__icontains=q)
            | Q(name__icontains=q)
        )
    return lines.order_by("id")


LOG_SEARCH_CAP = 100_000  # matches of a search paged through; a wider search says to narrow it


def log_page(backup: Backup, where: LogFilter, number):
    """One page of the log (server-side: the browser never holds millions of lines); `number`
    "last" (or none while the backup runs) is the last page, which follows new lines.

    Pages are cut from the ids (the index on backup and id: no row is read to skip the pages
    before), then the page's rows are read by id. A search reads the matching ids once, at most
    LOG_SEARCH_CAP of them (`page.capped` says so), so it scans the lines once, not twice."""
    ids = log_lines(backup.pk, where).values_list("id", flat=True)
    capped = False
    if where.q:
        ids = list(ids[: LOG_SEARCH_CAP + 1])
        capped = len(ids) > LOG_SEARCH_CAP
        ids = ids[:LOG_SEARCH_CAP]
    paginator = Paginator(ids, LOG_LINES_PER_PAGE)
    if number == "last" or (number in (None, "") and not backup.is_terminal):
        page = paginator.page(paginator.num_pages)
    else:
        page = paginator.get_page(number)
    chosen = list(page.object_list)
    page.object_list = list(BackupLogEntry.objects.filter(id__in=chosen).order_by("id")) if chosen else []
    page.capped = capped
    return page


def log_lines_after(backup_id: int, where: LogFilter, after: int, limit: int = 500) -> list[BackupLogEntry]:
    """Lines recorded after id `after` (the live page appends them), at most `limit`."""
    return list(log_lines(backup_id, where).filter(id__gt=after)[:limit])
