"""Planning a restore: every backed-up object in Velero's priority tiers, each with its action.

Tiers (restore.go execute/getOrderedResources): CRDs first, always; then each high priority in
order; then every other resource of the backup in one tier (Velero restores them one after the
other alphabetically; nothing orders them, so Veloweb restores them together); then each low
priority. Priority names resolve as Velero resolves them (discovery: `clusterroles` is
`clusterroles.rbac.authorization.k8s.io`, `volumesnapshotclass.snapshot.storage.k8s.io` names the
snapshot classes).

Filters (getOrderedResourceCollection, getSelectedRestoreableItems, restoreItem): Velero's
non-restorable resources; included/excluded resources; included/excluded namespaces (of the
backed-up namespace); cluster-scoped items unless `--include-cluster-resources` or, when it is
unset, all namespaces are included (a PV claimed by a restored claim is still restored with it, as
Velero's PVC action adds it); the label selector or the or-selectors. VolumeSnapshotContents and
DataUploads are restored whatever the filters say (Velero's resourceMustHave). Velero's own skips
(completed pods and jobs, mirror pods, re-provisioned PVs, token secrets) are `excluded` with why.

Without a dry run every included item is `create`. A dry run prepares each item as the restore
would (`item.prepare_item`) and reads the target (one list per resource and namespace, nothing
written): missing -> `create`; present and identical apart from Velero's changes -> `skip`;
different -> `conflict` (policy none) or `update` (policy update), with the field diff.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from itertools import groupby
from sys import intern

from backups.engine.planning.resources import ResourceTable, UnknownResource
from backups.engine.source import SourceError

from .contents import BackupContents
from .context import RestoreContext
from .item import compare_existing, prepare_item, restored_name, velero_skip_reason
from .plan_types import CONFLICT, CREATE, EXCLUDED, SKIP, UPDATE, PlannedItem, RestorePlan, Tier
from .spec import NON_RESTORABLE, RestoreSpec
from .target import RestoreTarget

CRDS = "customresourcedefinitions.apiextensions.k8s.io"
MUST_HAVE = ("datauploads.velero.io", "volumesnapshotcontents.snapshot.storage.k8s.io")
EVERYTHING_ELSE = "*"
_READ_FOR_SKIPS = {
    "pods",
    "jobs.batch",
    "persistentvolumes",
    "secrets",
    "volumesnapshots.snapshot.storage.k8s.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
}


def resolve_priority(name: str, table: ResourceTable, present: Iterable[str]) -> str:
    """A priority entry as a `resource.group` name (as given when nothing resolves it)."""
    present = set(present)
    if name in present:
        return name
    for candidate in (name, name.partition(".")[0]):
        try:
            info = table.resolve(candidate)
        except UnknownResource:
            continue
        group = name.partition(".")[2]
        if candidate == name or info.group == group:
            return info.group_resource
    return name


def tier_order(
    contents: BackupContents, spec: RestoreSpec, table: ResourceTable
) -> list[tuple[str, list[str]]]:
    """[(tier name, [resource.group, ...])] in restore order, only resources the backup holds."""
    present = contents.group_resources()
    high, low = spec.high_and_low_priorities()
    tiers: list[tuple[str, list[str]]] = []
    seen: set[str] = set()

    def add(name: str, grs: list[str]) -> None:
        grs = [g for g in grs if g in present and g not in seen]
        seen.update(grs)
        if grs:
            tiers.append((name, grs))

    add("customresourcedefinitions", [CRDS])
    low_resolved = [(p, resolve_priority(p, table, present)) for p in low]
    for p in high:
        add(p, [resolve_priority(p, table, present)])
    low_set = {gr for _p, gr in low_resolved}
    add(EVERYTHING_ELSE, sorted(g for g in present if g not in seen and g not in low_set))
    for p, gr in low_resolved:
        add(p, [gr])
    return tiers


class _Filters:
    """The restore's item filters, with the reason each exclusion gives."""

    def __init__(self, spec: RestoreSpec, table: ResourceTable, contents: BackupContents):
        self.spec = spec
        self.r_includes = [self._resolve(n, table) for n in spec.included_resources if n.strip()] or ["*"]
        self.r_excludes = [self._resolve(n, table) for n in spec.excluded_resources if n.strip()]
        self.ns_includes = [n.strip() for n in spec.included_namespaces if n.strip()] or ["*"]
        self.ns_excludes = [n.strip() for n in spec.excluded_namespaces if n.strip()]
        self.include_everything = self.ns_includes == ["*"] and not self.ns_excludes
        self.selectors = spec.selectors
        self._claimed_pvs: set[str] | None = None
        self.contents = contents

    @staticmethod
    def _resolve(name: str, table: ResourceTable) -> str:
        name = name.strip()
        if name == "*" or any(c in name for c in "*?["):
            return name
        try:
            return table.resolve(name).group_resource
        except UnknownResource:
            return name

    def resource_reason(self, gr: str) -> str:
        if gr in NON_RESTORABLE:
            return f"{gr} is a non-restorable resource"
        if gr in MUST_HAVE:
            return ""
        if any(fnmatchcase(gr, p) for p in self.r_excludes):
            return f"resource {gr} is excluded"
        if not any(p == "*" or fnmatchcase(gr, p) for p in self.r_includes):
            return f"resource {gr} is not included"
        return ""

    def namespace_reason(self, namespace: str) -> str:
        if any(fnmatchcase(namespace, p) for p in self.ns_excludes):
            return f"namespace {namespace} is excluded"
        if not any(p == "*" or fnmatchcase(namespace, p) for p in self.ns_includes):
            return f"namespace {namespace} is not included"
        return ""

    def cluster_reason(self, gr: str, name: str) -> str:
        if gr in MUST_HAVE:
            return ""
        if self.spec.include_cluster_resources is False:
            return "cluster-scoped: include-cluster-resources is false"
        if self.spec.include_cluster_resources is None and not self.include_everything:
            if gr == "persistentvolumes" and name in self.claimed_pvs():
                return ""
            return "cluster-scoped, and only specific namespaces are included"
        return ""

    def claimed_pvs(self) -> set[str]:
        """PVs bound to a claim that is restored (Velero's PVC action restores them with it)."""
        if self._claimed_pvs is None:
            found: set[str] = set()
            claims = [
                e
                for e in self.contents.entries("persistentvolumeclaims")
                if not self.namespace_reason(e.namespace)
            ]
            for _entry, claim in self.contents.iter_objects(claims):
                volume = (claim.get("spec") or {}).get("volumeName")
                bound = (claim.get("status") or {}).get("phase") == "Bound"
                if volume and bound and self.labels_match(claim):
                    found.add(volume)
            self._claimed_pvs = found
        return self._claimed_pvs

    def labels_match(self, obj: dict) -> bool:
        if not self.selectors:
            return True
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return any(s.matches(labels) for s in self.selectors)


def _group_resource_parts(gr: str) -> tuple[str, str]:
    resource, _, group = gr.partition(".")
    return group, resource


def plan_restore(
    contents: BackupContents,
    spec: RestoreSpec,
    target: RestoreTarget,
    *,
    dry_run: bool,
    restore_name: str = "",
    context: RestoreContext | None = None,
) -> RestorePlan:
    """Every object of `contents` in its tier with its action (module docstring). A dry run reads
    the target (get/list only). `restore_name` names restored snapshots (as the restore will)."""
    ctx = context or RestoreContext(restore_name or "dry-run", spec, contents, target)
    table = ctx.table()
    filters = _Filters(spec, table, contents)
    plan = RestorePlan(tiers=[], dry_run=dry_run)
    for tier_name, grs in tier_order(contents, spec, table):
        tier = Tier(tier_name)
        for gr in grs:
            tier.items.extend(_plan_resource(gr, contents, spec, ctx, filters, dry_run, plan))
        plan.tiers.append(tier)
    return plan


def _plan_resource(
    gr: str,
    contents: BackupContents,
    spec: RestoreSpec,
    ctx: RestoreContext,
    filters: _Filters,
    dry_run: bool,
    plan: RestorePlan,
) -> list[PlannedItem]:
    entries = contents.entries(gr)
    info = ctx.table().by_group_resource(gr)
    kind = info.kind if info is not None else ""
    resource_reason = filters.resource_reason(gr)
    items: list[PlannedItem] = []
    must_have = gr in MUST_HAVE
    read = bool(filters.selectors) or dry_run or gr in _READ_FOR_SKIPS or not kind
    objects = contents.iter_objects(entries) if read else ((e, None) for e in entries)
    for entry, obj in objects:
        target_ns = spec.target_namespace(entry.namespace)
        name = entry.name
        if gr == "namespaces":
            target_ns, name = "", spec.namespace_mapping.get(entry.name, entry.name)
        item_kind = intern((obj or {}).get("kind") or kind)
        reason = resource_reason
        if not reason and not must_have:
            if entry.namespace:
                reason = filters.namespace_reason(entry.namespace)
            elif gr == "namespaces":
                reason = filters.namespace_reason(entry.name)
            else:
                reason = filters.cluster_reason(gr, entry.name)
        if not reason and not must_have and obj is not None and not filters.labels_match(obj):
            reason = "labels do not match the label selector"
        item = PlannedItem(
            entry.group,
            entry.version,
            entry.resource,
            target_ns,
            name,
            EXCLUDED if reason else CREATE,
            reason,
            source_namespace=entry.namespace if gr != "namespaces" else entry.name,
            kind=item_kind,
            offset=entry.offset,
            length=entry.length,
        )
        if not reason and obj is not None and gr != "namespaces":
            skip = velero_skip_reason(item, obj, ctx)
            if skip:
                item = item._replace(action=EXCLUDED, reason=skip)
            elif gr.startswith(("volumesnapshots.", "volumesnapshotcontents.")):
                item = item._replace(name=restored_name(gr, obj, ctx.restore_name))
        items.append(item)
    if dry_run:
        items = _dry_run(items, gr, contents, ctx, plan)
    return items


def _dry_run(
    items: list[PlannedItem], gr: str, contents: BackupContents, ctx: RestoreContext, plan: RestorePlan
) -> list[PlannedItem]:
    """Each included item's action against the target, one list per (resource, namespace)."""
    group, resource = _group_resource_parts(gr)
    info = ctx.table().by_group_resource(gr)
    out: list[PlannedItem] = []
    keyed = sorted(range(len(items)), key=lambda i: items[i].namespace)
    decided: dict[int, PlannedItem] = {}
    for namespace, indexes in groupby(keyed, key=lambda i: items[i].namespace):
        group_items = [(i, items[i]) for i in indexes]
        todo = [(i, it) for i, it in group_items if it.action != EXCLUDED]
        if not todo:
            continue
        if info is None:
            for i, it in todo:
                decided[i] = it._replace(reason=f"{gr} is not served yet: its CRD is restored first")
            continue
        try:
            existing = {
                (o.get("metadata") or {}).get("name"): o
                for o in ctx.target.list(info, namespace or None if info.namespaced else None)
            }
        except SourceError as exc:
            plan.warnings.append(f"cannot read {gr} in {namespace or 'the cluster'}: {exc}")
            existing = {}
        for i, it in todo:
            decided[i] = _decide(it, existing.get(it.name), ctx)
    for i, it in enumerate(items):
        out.append(decided.get(i, it))
    return out


def _decide(item: PlannedItem, existing: dict | None, ctx: RestoreContext) -> PlannedItem:
    if item.group_resource == "namespaces":
        if existing is None:
            return item._replace(action=CREATE, reason="")
        return item._replace(action=SKIP, reason="namespace exists")
    obj = ctx.contents.read_at(item.offset, item.length)
    prepared = prepare_item(item, obj, ctx)
    if prepared.obj is None:
        if prepared.errors or prepared.warnings:
            problem = (prepared.errors + prepared.warnings)[0]
            return item._replace(action=EXCLUDED, reason=f"cannot be restored: {problem}")
        return item._replace(action=EXCLUDED, reason=prepared.skip_reason)
    if existing is None:
        return item._replace(action=CREATE, reason="")
    identical, diff = compare_existing(prepared.obj, existing, ctx)
    if identical:
        return item._replace(action=SKIP, reason="exists, identical")
    if ctx.spec.existing_resource_policy == "update":
        return item._replace(
            action=UPDATE, reason="exists, differs: patched to the backed-up version", diff=diff
        )
    return item._replace(action=CONFLICT, reason="exists, differs: left as it is (policy none)", diff=diff)
