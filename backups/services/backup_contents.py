"""What is inside finished backups, read through their tarball indexes (`backup_indexes`): a
page of items, one item (one ranged read), the backups holding an item, the diff of two
backups and of one item against the live cluster. Secrets are redacted unless `reveal`.

Everything streams over the sorted index files: a page of 300,000 items is one pass, a diff
is one merge of two passes, an item is a binary search and one ranged read of the tarball.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from backups.engine.item_diff import (
    ADDED,
    CHANGED,
    REMOVED,
    VOLATILE,
    FieldChange,
    ItemChange,
    diff_index_lines,
    field_changes,
    redact,
    redact_changes,
)
from backups.engine.manifests.builtin_discovery import builtin_resource_table
from backups.engine.planning.resources import UnknownResource
from backups.engine.source import SourceError
from backups.engine.storage import StorageError
from backups.engine.velero_format.layout import tarball_key
from backups.engine.velero_format.tarball_index import (
    IndexEntry,
    IndexError_,
    TarballIndex,
    extract_entry,
    parse_line,
)
from backups.models import Backup
from backups.services.backup_indexes import (
    FINISHED,
    ContentsUnavailable,
    NotIndexed,
    StorageUnreachable,
    cache_dir,
    open_index,
    open_or_request,
)

PER_PAGE = 100
DIFF_PER_PAGE = 25
SEARCH_LIMIT = 200  # backups looked at by one search across backups


@dataclass
class Page:
    """One page of a streamed listing, with the total found in the same pass."""

    rows: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def previous(self) -> int:
        return self.number - 1

    @property
    def next(self) -> int:
        return self.number + 1


def page_number(text: str | None) -> int:
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def _page(rows: Callable[[], Iterator], number: int, per_page: int, keep: Callable = lambda row: row) -> Page:
    """One pass over `rows()` keeps one page (through `keep`) and counts them all; a page past
    the end is the last."""
    start, stop = (number - 1) * per_page, number * per_page
    kept, total = [], 0
    for row in rows():
        if start <= total < stop:
            kept.append(keep(row))
        total += 1
    last = max(1, -(-total // per_page))
    if number > last:
        return _page(rows, last, per_page, keep)
    return Page(kept, number, per_page, total)


# --- one backup's items ----------------------------------------------------------------------------


def items_page(
    index: TarballIndex, resource: str = "", namespace: str = "", q: str = "", number: int = 1
) -> Page:
    """Items of one resource type and namespace (either may be empty: all), whose name contains
    `q` (case-insensitive), sorted by resource, namespace and name."""
    needle = q.strip().lower().encode()
    scope = None if namespace == "" else ("" if namespace == "-" else namespace).encode()

    if not needle and scope is None:  # the count is in the header: read up to the page only
        total = index.types.get(resource, 0) if resource else index.items
        last = max(1, -(-total // PER_PAGE))
        number = min(number, last)
        start = (number - 1) * PER_PAGE
        kept = [parse_line(line) for line in islice(index.lines(resource or None), start, start + PER_PAGE)]
        return Page(kept, number, PER_PAGE, total)
    ranged = resource and scope is not None  # one namespace of one type: a range of the index

    def rows() -> Iterator[bytes]:
        lines = (
            index.lines(resource, scope.decode())
            if ranged and scope is not None
            else index.lines(resource or None)
        )
        for line in lines:  # filtered on raw fields, parsed when kept
            _, ns, name, _ = line.split(b"\t", 3)
            if scope is not None and ns != scope:
                continue
            if needle and needle not in name.lower() and needle not in ns.lower():
                continue
            yield line

    return _page(rows, number, PER_PAGE, parse_line)


def read_item(backup: Backup, entry: IndexEntry) -> dict:
    """One item: one ranged read of the tarball, checked against the index's content hash."""
    location = backup.storage_location
    assert location is not None
    try:
        data = location.store().read_range(tarball_key(backup.name), entry.member_offset, entry.read_length)
        return json.loads(extract_entry(data, entry))
    except (StorageError, OSError) as error:
        raise StorageUnreachable(f"storage location {location.name} cannot be read: {error}") from error
    except (IndexError_, ValueError) as error:
        raise ContentsUnavailable(f"the tarball of {backup.name} cannot be read: {error}") from error


def shown(entry: IndexEntry, obj: Any, reveal: bool) -> Any:
    return obj if reveal else redact(entry.group_resource, obj)


def find_item(
    backup: Backup, resource: str, namespace: str, name: str
) -> tuple[IndexEntry | None, TarballIndex]:
    index = open_or_request(backup)
    return index.find(resource, namespace, name), index


# --- which backups hold an item --------------------------------------------------------------------


def resolve_resource(text: str, known: set[str] | frozenset[str] = frozenset()) -> str:
    """`configmap`, `ConfigMap`, `cm`, `configmaps` -> `configmaps`; `deployments.apps` as is; a
    custom resource's kind or plural (`widget`, `widgets`) -> the `widgets.example.com` of the
    indexes at hand (`known`); anything else as the `resource.group` it spells."""
    text = text.strip()
    if not text:
        return ""
    try:
        return builtin_resource_table().resolve(text).group_resource
    except UnknownResource:
        pass
    lowered = text.lower()
    if lowered in known:
        return lowered
    plurals = {
        lowered,
        lowered + "s",
        lowered + "es",
        lowered[:-1] + "ies" if lowered.endswith("y") else lowered,
    }
    matches = sorted(gr for gr in known if gr.split(".", 1)[0] in plurals)
    return matches[0] if len(matches) == 1 else lowered


def known_types() -> set[str]:
    """The resource types of the indexes this dashboard holds locally (their headers only)."""
    types: set[str] = set()
    for path in cache_dir().glob("*.tsv"):
        try:
            types.update(TarballIndex(str(path)).types)
        except (IndexError_, OSError):
            continue
    return types


@dataclass
class Holding:
    backup: Backup
    entry: IndexEntry | None
    changed: bool = False  # its content differs from the previous (older) backup holding it
    first: bool = False  # the oldest backup holding it


@dataclass
class Holders:
    rows: list[Holding] = field(default_factory=list)  # newest first
    not_indexed: list[Backup] = field(default_factory=list)
    unreadable: list[tuple[Backup, str]] = field(default_factory=list)

    @property
    def holding(self) -> list[Holding]:
        return [row for row in self.rows if row.entry is not None]

    @property
    def versions(self) -> int:
        return len({row.entry.digest for row in self.holding if row.entry})


def backups_holding(resource: str, namespace: str, name: str, cluster_id: int | None = None) -> Holders:
    """Every finished backup (of one cluster, or all), newest first, with the item's entry (None
    when absent) and whether its content changed from the older backup before it. Indexes that
    are not local are downloaded; backups with none yet are listed as not indexed (opening one
    builds it), so a search never scans tarballs."""
    backups = Backup.objects.filter(phase__in=FINISHED).select_related("storage_location", "cluster")
    if cluster_id is not None:
        backups = backups.filter(cluster_id=cluster_id)
    result = Holders()
    found: list[Holding] = []
    for backup in backups.order_by("-started", "-created", "-pk")[:SEARCH_LIMIT]:
        try:
            index = open_index(backup, build=False)
        except NotIndexed:
            result.not_indexed.append(backup)
            continue
        except ContentsUnavailable as error:
            result.unreadable.append((backup, str(error)))
            continue
        found.append(Holding(backup, index.find(resource, namespace, name)))
    previous: str | None = None
    first_seen = False
    for row in reversed(found):  # oldest first
        if row.entry is None:
            previous = None if previous is None else "absent"
            continue
        row.changed = previous is not None and row.entry.digest != previous
        if not first_seen:
            row.first = first_seen = True
        previous = row.entry.digest
    result.rows = found
    return result


# --- two backups -----------------------------------------------------------------------------------


@dataclass
class DiffRow:
    change: ItemChange
    fields: list[FieldChange] | None = None  # for changed items on the page
    problem: str = ""


@dataclass
class BackupDiff:
    old: Backup
    new: Backup
    counts: dict[str, int]
    page: Page


def diff_backups(
    old: Backup, new: Backup, *, status: str = "", resource: str = "", number: int = 1, reveal: bool = False
) -> BackupDiff:
    """Items added, removed and changed from `old` to `new` (a merge of the two indexes), the
    counts of each, and one page of them with the field-level changes of the changed ones."""
    old_index, new_index = open_or_request(old), open_or_request(new)
    counts: dict[str, int] = {}

    def rows() -> Iterator[ItemChange]:
        counts.update({ADDED: 0, REMOVED: 0, CHANGED: 0})
        for change in diff_index_lines(old_index.lines(resource or None), new_index.lines(resource or None)):
            counts[change.status] += 1
            if not status or change.status == status:
                yield change

    page = _page(rows, number, DIFF_PER_PAGE)
    diff_rows = []
    for change in page.rows:
        row = DiffRow(change)
        if change.status == CHANGED and change.old and change.new:
            try:
                row.fields = item_changes(
                    change.old.group_resource, read_item(old, change.old), read_item(new, change.new), reveal
                )
            except ContentsUnavailable as error:
                row.problem = str(error)
        diff_rows.append(row)
    page.rows = diff_rows
    return BackupDiff(old, new, counts, page)


def item_changes(group_resource: str, old: dict, new: dict, reveal: bool, ignore=()) -> list[FieldChange]:
    changes = field_changes(old, new, ignore=ignore)
    return changes if reveal else redact_changes(group_resource, changes)


def previous_backup(backup: Backup) -> Backup | None:
    """The finished backup of the same cluster just before `backup`, to compare it with."""
    if backup.cluster_id is None:
        return None
    earlier = Backup.objects.filter(phase__in=FINISHED, cluster_id=backup.cluster_id).exclude(pk=backup.pk)
    when = backup.started or backup.created
    return (
        earlier.filter(started__lt=when)
        .order_by("-started", "-pk")
        .select_related("storage_location")
        .first()
        if when
        else None
    )


# --- one item against the live cluster -------------------------------------------------------------


@dataclass
class LiveDiff:
    live: dict | None  # None: not in the cluster now
    changes: list[FieldChange]
    ignored: tuple[str, ...] = VOLATILE


def live_diff(backup: Backup, entry: IndexEntry, backed_up: dict, reveal: bool) -> LiveDiff:
    """The backed-up item against the same object in the cluster now (read through `kube`)."""
    cluster = backup.cluster
    if cluster is None:
        raise ContentsUnavailable(f"backup {backup.name} was imported: the cluster it came from is not known")
    try:
        source = cluster.connect()
    except (SourceError, ValueError, OSError) as error:
        raise StorageUnreachable(f"cluster {cluster.name} cannot be reached: {error}") from error
    try:
        info = source.resources().by_group_resource(entry.group_resource)
        if info is None:
            return LiveDiff(None, [])
        live = source.get(info, entry.namespace or None, entry.name)
    except (SourceError, ValueError, OSError) as error:
        raise StorageUnreachable(f"cluster {cluster.name} cannot be read: {error}") from error
    finally:
        source.close()
    if live is None:
        return LiveDiff(None, [])
    changes = item_changes(entry.group_resource, backed_up, live, reveal, ignore=VOLATILE)
    return LiveDiff(shown(entry, live, reveal), changes)
