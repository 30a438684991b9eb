"""The item collector: which objects a backup reads, and in which order (spec part 2 (f)).

Only item keys and the few facts the relations need are kept, so a 300,000-object cluster
stays small in memory; every list streams page by page from the source.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from backups.engine.items import ItemKey
from backups.engine.log import BackupLog
from backups.engine.running.hook_spec import ResourceHook, has_hooks, hook_warnings
from backups.engine.source import Source, SourceError

from .filters import NAMESPACES, GlobalResourceFilter, NamespaceFilter, ResourceFilter, ScopedResourceFilter
from .relations import Relation
from .resource_policies import parse_resource_policies
from .resources import ResourceInfo, ResourceTable
from .spec import EXCLUDE_LABEL, BackupSpec, SpecError, spec_warnings
from .spool import Spool

CORE_PRIORITY = {"pods": 0, "persistentvolumeclaims": 1, "persistentvolumes": 2}
# The same resource served by two groups is collected once, from the group seen first.
COHABITING = {
    "deployments": {"apps", "extensions"},
    "daemonsets": {"apps", "extensions"},
    "replicasets": {"apps", "extensions"},
    "networkpolicies": {"networking.k8s.io", "extensions"},
    "events": {"", "events.k8s.io"},
}
# Velero never collects these: only snapshots it creates itself belong in a backup.
AUTO_EXCLUDED = ("volumesnapshots.snapshot.storage.k8s.io", "volumesnapshotcontents.snapshot.storage.k8s.io")


def collection_order(table: ResourceTable) -> list[ResourceInfo]:
    """Core group first (pods, claims, volumes, then the rest), then groups in discovery
    order with `extensions` last; only resources Velero can back up."""
    resources = [r for r in table if r.backupable]
    groups: list[str] = []
    for r in resources:
        if r.group not in groups:
            groups.append(r.group)
    groups.sort(key=lambda g: (g != "", g == "extensions"))
    ordered: list[ResourceInfo] = []
    for group in groups:
        members = [r for r in resources if r.group == group]
        if group == "":
            members.sort(key=lambda r: CORE_PRIORITY.get(r.resource, 3))
        ordered.extend(members)
    return ordered


PODS = "pods"


def object_exclusion(obj: dict) -> str:
    """Reasons an object is left out whatever the filters say."""
    meta = obj.get("metadata") or {}
    if ((meta.get("labels") or {}).get(EXCLUDE_LABEL)) == "true":
        return f"has label {EXCLUDE_LABEL}=true"
    if meta.get("deletionTimestamp"):
        return "is being deleted"
    return ""


def build_filters(
    spec: BackupSpec, table: ResourceTable, namespaces: Iterable[dict]
) -> tuple[NamespaceFilter, ResourceFilter]:
    """The backup's namespace and resource filters, as Velero resolves them for a run: namespace
    patterns expanded against the cluster's `namespaces` (every phase), namespaces labelled
    `velero.io/exclude-from-backup=true` added to the excluded ones, the old-style resource filter
    when any old-style field is set, else the scoped one (with the resource policy's
    includeExcludePolicy), and the snapshot types Velero never collects left out."""
    namespaces = list(namespaces)
    names = [ns["metadata"]["name"] for ns in namespaces]
    labelled_out = [name for name, ns in zip(names, namespaces, strict=True) if _labelled_out(ns)]
    ns_filter = NamespaceFilter.of(spec.included_namespaces, spec.excluded_namespaces).expand(names)
    ns_filter = ns_filter.excluding(labelled_out)
    resources: ResourceFilter
    if spec.uses_old_resource_filters:
        resources = GlobalResourceFilter.build(
            table,
            spec.included_resources,
            spec.excluded_resources,
            spec.include_cluster_resources,
            ns_filter,
            AUTO_EXCLUDED,
        )
    else:
        scoped = ScopedResourceFilter.build(
            table,
            spec.included_namespace_scoped_resources,
            spec.excluded_namespace_scoped_resources,
            spec.included_cluster_scoped_resources,
            spec.excluded_cluster_scoped_resources,
            ns_filter,
            AUTO_EXCLUDED,
        )
        if spec.resource_policy and spec.resource_policy.strip():
            policies = parse_resource_policies(spec.resource_policy)
            if policies.has_include_exclude_policy:
                scoped.combine_with_policy(policies)
        resources = scoped
    return ns_filter, resources


def _labelled_out(obj: dict) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(EXCLUDE_LABEL) == "true"


def list_namespaces(source: Source, table: ResourceTable) -> list[dict]:
    info = table.by_group_resource(NAMESPACES)
    if info is None:
        return []
    try:
        return list(source.list(info))
    except SourceError as error:
        raise SourceError(
            f"cannot list namespaces: {error.message}", resource=NAMESPACES, status=error.status
        ) from None


def _is_active(ns: dict) -> bool:
    return ((ns.get("status") or {}).get("phase") or "Active") == "Active"


@dataclass
class Collection:
    """The collected list: keys in order, plus what the block walk needs per item."""

    table: ResourceTable
    namespaces: NamespaceFilter
    resources: ResourceFilter
    keys: list[ItemKey] = field(default_factory=list)
    ordered: set[int] = field(default_factory=set)
    blocked: dict[int, str] = field(default_factory=dict)  # object-level exclusion reasons
    facts: dict[int, tuple[tuple[Relation, Any], ...]] = field(default_factory=dict)
    tracked_namespaces: set[str] = field(default_factory=set)
    hooked_pods: set[ItemKey] = field(default_factory=set)  # pods with a pre- or post-hook
    # where each collected object sits in the spool (parallel to `keys`), when spooling
    offsets: array = field(default_factory=lambda: array("q"))
    lengths: array = field(default_factory=lambda: array("q"))
    # the types the filters leave out, never listed: (group resource, why) in collection order
    skipped_types: list[tuple[str, str]] = field(default_factory=list)
    on_excluded: Callable[[ItemKey, str], None] | None = None


class WatchCache:
    """Per-namespace lists that relations read (pods of a namespace, all bindings...).

    Filled from the collector's own lists when they were complete (no label selector), so
    a full backup lists each resource once; otherwise listed from the source on first use.
    """

    def __init__(self, source: Source, table: ResourceTable, volume_group_label_key: str):
        self.source = source
        self.table = table
        self.volume_group_label_key = volume_group_label_key
        self._lists: dict[tuple[str, str, str | None], list[tuple[str, Any]]] = {}
        self._complete: set[tuple[str, str]] = set()

    def priming(
        self,
        relations: list[Relation],
        group_resource: str,
        objects: Iterable[dict],
        all_namespaces: bool,
        namespace: str | None,
    ) -> Iterator[dict]:
        """Pass `objects` through, keeping each watching relation's summary of them; the lists
        count as complete only if the listing finished (a failed list leaves no partial cache)."""
        lists: dict[tuple[str, str | None], list[tuple[str, Any]]] = {}
        summarizers = [(r.name, r.watches[group_resource]) for r in relations]
        if not all_namespaces:
            for name, _ in summarizers:
                lists[(name, namespace)] = []
        for obj in objects:
            meta = obj["metadata"]
            ns = meta.get("namespace") or None
            for name, summarize in summarizers:
                lists.setdefault((name, ns), []).append((meta["name"], summarize(obj)))
            yield obj
        for (name, ns), items in lists.items():
            self._lists[(name, group_resource, ns)] = items
        if all_namespaces:
            self._complete.update((name, group_resource) for name, _ in summarizers)

    def objects(
        self, relation: Relation, group_resource: str, namespace: str | None
    ) -> list[tuple[str, Any]]:
        key = (relation.name, group_resource, namespace or None)
        found = self._lists.get(key)
        if found is not None:
            return found
        if (relation.name, group_resource) in self._complete:
            return []
        info = self.table.by_group_resource(group_resource)
        if info is None:
            return []
        summarize = relation.watches[group_resource]
        items = [(o["metadata"]["name"], summarize(o)) for o in self.source.list(info, namespace or None)]
        self._lists[key] = items
        return items


class Collector:
    def __init__(
        self,
        source: Source,
        spec: BackupSpec,
        relations: list[Relation],
        log: BackupLog,
        spool: Spool | None = None,
        hooks: list[ResourceHook] | None = None,
        on_excluded: Callable[[ItemKey, str], None] | None = None,
    ):
        self.on_excluded = on_excluded  # set: objects a label selector leaves out are told there
        self.source = source
        self.spec = spec
        self.relations = relations
        self.log = log
        self.spool = spool
        self.hooks = hooks  # None: pods are not checked for hooks

    def collect(self, watch: WatchCache | None = None) -> Collection:
        table = self.source.resources()
        all_namespaces = list_namespaces(self.source, table)
        self._refuse_labelled_includes(all_namespaces)
        namespaces, resources = build_filters(self.spec, table, all_namespaces)
        ordered = self._ordered_resources(table)
        selectors = self.spec.selectors
        result = Collection(table, namespaces, resources, on_excluded=self.on_excluded)
        for _, message in spec_warnings(self.spec, table):
            self.log.warning(message)
        for message in hook_warnings(self.hooks or []):
            self.log.warning(message)
        if table.by_group_resource(NAMESPACES) is not None:
            self._check_included_namespaces(namespaces, all_namespaces)
        to_list = namespaces.to_list()
        self._track_namespaces(result, all_namespaces, namespaces, selectors)

        applicable: dict[str, list[Relation]] = {}
        for relation in self.relations:
            for gr in relation.applies_to:
                applicable.setdefault(gr, []).append(relation)
        watched: dict[str, list[Relation]] = {}
        for relation in self.relations:
            for gr in relation.watches:
                watched.setdefault(gr, []).append(relation)

        seen_cohabiting: dict[str, str] = {}
        namespace_positions: list[int] = []
        for info in collection_order(table):
            gr = info.group_resource
            if not resources.should_include(gr):
                result.skipped_types.append((gr, resources.why_excluded(gr)))
                continue
            groups = COHABITING.get(info.resource)
            if groups and info.group in groups:
                if info.resource in seen_cohabiting:
                    continue
                seen_cohabiting[info.resource] = info.group
            if gr == NAMESPACES:
                start = len(result.keys)
                self._add_objects(result, info, all_namespaces, applicable.get(gr, ()))
                namespace_positions = list(range(start, len(result.keys)))
                continue
            start = len(result.keys)
            for namespace in [None] if not info.namespaced else to_list:
                try:
                    objects = self._list(info, namespace, selectors)
                    if watch is not None and not selectors and gr in watched:
                        objects = watch.priming(watched[gr], gr, objects, namespace is None, namespace)
                    self._add_objects(result, info, objects, applicable.get(gr, ()))
                except SourceError as error:
                    self.log.error(
                        f"error listing items: {error.message}", resource=gr, namespace=namespace or ""
                    )
            if gr in ordered:
                self._apply_order(result, start, ordered[gr], gr)
        self._drop_untracked_namespaces(result, namespace_positions)
        return result

    def _list(self, info: ResourceInfo, namespace: str | None, selectors: list[str]) -> Iterator[dict]:
        """One list call per label selector, as Velero lists for or-selectors; an object matching
        several selectors is collected once, where the first one found it."""
        if selectors and self.on_excluded is not None:
            return self._list_explained(info, namespace, selectors)
        if len(selectors) <= 1:
            return self.source.list(info, namespace, selectors[0] if selectors else None)
        return self._list_any(info, namespace, selectors)

    def _list_explained(
        self, info: ResourceInfo, namespace: str | None, selectors: list[str]
    ) -> Iterator[dict]:
        """The objects the selectors select, as a backup lists them (same order), then one more
        list without them telling `on_excluded` of each object no selector matches (the preview)."""
        from .label_selectors import parse_selector

        if len(selectors) == 1:
            yield from self.source.list(info, namespace, selectors[0])
        else:
            yield from self._list_any(info, namespace, selectors)
        matchers = [parse_selector(s) for s in selectors]
        told = self.on_excluded
        assert told is not None
        reason = (
            f"matches no label selector ({' or '.join(selectors)})"
            if len(selectors) > 1
            else f"does not match the label selector {selectors[0]}"
        )
        for obj in self.source.list(info, namespace, None):
            meta = obj["metadata"]
            if not any(m.matches(meta.get("labels") or {}) for m in matchers):
                ns = (meta.get("namespace") or "") if info.namespaced else ""
                told(ItemKey(info.group, info.version, info.resource, ns, meta["name"]), reason)

    def _list_any(self, info: ResourceInfo, namespace: str | None, selectors: list[str]) -> Iterator[dict]:
        seen: set[tuple[str, str]] = set()
        for selector in selectors:
            for obj in self.source.list(info, namespace, selector):
                meta = obj["metadata"]
                key = (meta.get("namespace") or "", meta["name"])
                if key not in seen:
                    seen.add(key)
                    yield obj

    def _ordered_resources(self, table: ResourceTable) -> dict[str, list[str]]:
        """Ordered resources by group resource; a name discovery does not know orders nothing
        (a warning says so), as in Velero."""
        result = {}
        for name, items in (self.spec.ordered_resources or {}).items():
            try:
                result[table.resolve(name).group_resource] = list(items)
            except ValueError:
                continue
        return result

    def _refuse_labelled_includes(self, listed: list[dict]) -> None:
        """Velero's controller adds namespaces labelled velero.io/exclude-from-backup=true to the
        excluded ones before validating, so one also named among the included is refused."""
        named = set(self.spec.included_namespaces)
        both = sorted(
            ns["metadata"]["name"] for ns in listed if ns["metadata"]["name"] in named and _labelled_out(ns)
        )
        if both:
            raise SpecError(
                f"invalid namespace filter: {', '.join(both)} is both included and excluded "
                f"(labelled {EXCLUDE_LABEL}=true)"
            )

    def _check_included_namespaces(self, namespaces: NamespaceFilter, listed: list[dict]) -> None:
        """Velero lists an included namespace whether or not it exists, and only says so."""
        names = {ns["metadata"]["name"] for ns in listed}
        for explicit in namespaces.explicit_includes():
            if explicit != "*" and explicit not in names:
                self.log.warning(
                    f"namespace {explicit} in included namespaces does not exist",
                    resource=NAMESPACES,
                    name=explicit,
                )
        if namespaces.expanded and not any(namespaces.should_include(n) for n in names):
            self.log.warning("no namespaces matched the resolution of wildcard patterns")

    def _track_namespaces(
        self, result: Collection, listed: list[dict], namespaces: NamespaceFilter, selectors: list[str]
    ) -> None:
        """Velero's nsTracker.init: an Active namespace is kept when a selector matches its labels,
        or when its name is included (unless every namespace is included and selectors are given)."""
        from .label_selectors import parse_selector

        matchers = [parse_selector(s) for s in selectors]
        for ns in listed:
            if not _is_active(ns):
                continue
            meta = ns.get("metadata") or {}
            labels = meta.get("labels") or {}
            if any(m.matches(labels) for m in matchers):
                result.tracked_namespaces.add(meta["name"])
                continue
            if namespaces.include_everything and matchers:
                continue
            if namespaces.should_include(meta["name"]):
                result.tracked_namespaces.add(meta["name"])

    def _add_objects(
        self, result: Collection, info: ResourceInfo, objects: Iterable[dict], relations: Iterable[Relation]
    ) -> None:
        keys, blocked, facts, tracked = result.keys, result.blocked, result.facts, result.tracked_namespaces
        group, version, resource = info.group, info.version, info.resource
        intern = sys.intern
        relations = tuple(relations)
        spool, offsets, lengths = self.spool, result.offsets, result.lengths
        check_hooks = self.hooks is not None and group == "" and resource == PODS
        for obj in objects:
            meta = obj["metadata"]
            namespace = intern(meta.get("namespace") or "") if info.namespaced else ""
            index = len(keys)
            keys.append(ItemKey(group, version, resource, namespace, meta["name"]))
            if spool is not None:
                offset, length = spool.put(obj)
                offsets.append(offset)
                lengths.append(length)
            reason = object_exclusion(obj)
            if reason:
                blocked[index] = reason
            if relations:
                applied = tuple(
                    (r, r.summarize(obj)) for r in relations if relation_applies(r, namespace, meta)
                )
                if applied:
                    facts[index] = applied
            if namespace:
                tracked.add(namespace)
            if check_hooks and has_hooks(obj, self.hooks or []):
                result.hooked_pods.add(keys[-1])

    def _apply_order(self, result: Collection, start: int, order: list[str], gr: str) -> None:
        """Move the ordered items to the front of their resource's list, in the given order."""
        segment = result.keys[start:]
        position = {(f"{k.namespace}/{k.name}" if k.namespace else k.name): i for i, k in enumerate(segment)}
        front = []
        for name in order:
            i = position.pop(name, None)
            if i is None:
                self.log.warning(f"cannot find ordered resource {name!r}", resource=gr)
            else:
                front.append(i)
        chosen = set(front)
        permutation = front + [i for i in range(len(segment)) if i not in chosen]
        self._permute(result, start, permutation)
        result.ordered.update(range(start, start + len(front)))

    @staticmethod
    def _permute(result: Collection, start: int, permutation: list[int]) -> None:
        old_keys = result.keys[start:]
        old_blocked = {i - start: result.blocked.pop(i) for i in list(result.blocked) if i >= start}
        old_facts = {i - start: result.facts.pop(i) for i in list(result.facts) if i >= start}
        result.keys[start:] = [old_keys[i] for i in permutation]
        if result.offsets:
            for column in (result.offsets, result.lengths):
                before = column[start:]
                column[start:] = array("q", (before[i] for i in permutation))
        for new, old in enumerate(permutation):
            if old in old_blocked:
                result.blocked[start + new] = old_blocked[old]
            if old in old_facts:
                result.facts[start + new] = old_facts[old]

    @staticmethod
    def _drop_untracked_namespaces(result: Collection, positions: list[int]) -> None:
        drop = {i for i in positions if result.keys[i].name not in result.tracked_namespaces}
        if not drop:
            return
        keep = [i for i in range(len(result.keys)) if i not in drop]
        remap = {old: new for new, old in enumerate(keep)}
        result.keys = [result.keys[i] for i in keep]
        if result.offsets:
            result.offsets = array("q", (result.offsets[i] for i in keep))
            result.lengths = array("q", (result.lengths[i] for i in keep))
        result.ordered = {remap[i] for i in result.ordered if i in remap}
        result.blocked = {remap[i]: v for i, v in result.blocked.items() if i in remap}
        result.facts = {remap[i]: v for i, v in result.facts.items() if i in remap}


def relation_applies(relation: Relation, namespace: str, meta: dict) -> bool:
    """Velero's ShouldUse: a cluster-scoped item only when the relation takes every namespace."""
    if relation.included_namespaces or relation.excluded_namespaces:
        if not namespace:
            return False
        ns_filter = NamespaceFilter(
            list(relation.included_namespaces) or ["*"], list(relation.excluded_namespaces)
        )
        if not ns_filter.should_include(namespace):
            return False
    if relation.label_selector is not None and not relation.label_selector.matches(meta.get("labels") or {}):
        return False
    return True
