"""Restoring one planned item, as Velero's restoreItem does (pkg/restore/restore.go).

`prepare_item` turns a backed-up object into the object to create (shared by the dry run):
Velero's skips (completed pods and jobs, mirror pods, re-provisioned PVs, token secrets, snapshot
objects with `--restore-pvs=false`), the metadata reset, the built-in restore item actions
(`actions`), init-container hooks, resource modifiers, the target namespace and the two labels.

`restore_item` then creates it. When it exists: identical apart from Velero's changes, it is
skipped silently (with policy `update`, only the two labels are patched on); different, with policy
`none` it is skipped with Velero's warning "could not restore, <Kind> "<name>" already exists.
Warning: the in-cluster version is different than the backed-up version", with policy `update` it
is patched to the backed-up state (a JSON merge patch; if the patch is refused, a warning and only
the labels). ServiceAccounts that differ are merged (secrets and image pull secrets of both). After
a create, the status is restored for status-included resources; a restored pod's post-restore
hooks are returned for the caller to run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from backups.engine.planning.resources import ResourceInfo
from backups.engine.source import SourceError

from . import actions
from .context import RestoreContext
from .hooks import PostHook, add_init_hooks, post_hooks_for
from .plan_types import FieldDiff, PlannedItem
from .results import CREATED, FAILED, SKIPPED, UPDATED
from .target import MERGE_PATCH

MISSING_STATUS = 404


@dataclass
class ItemOutcome:
    """What restoring one item did: `result` is created/updated/skipped/failed (Velero's resource
    list words), `message` the warning or error text when there is one; `pod` and `post_hooks`
    are a restored pod and its post-restore hooks, for the caller to run (`run_post_restore_hooks`)."""

    item: PlannedItem
    result: str
    message: str = ""
    pod: dict | None = None
    post_hooks: list[PostHook] = field(default_factory=list)
    diff: tuple[FieldDiff, ...] = ()
    conflict: bool = False  # existed and differed, left as it was (policy none): Velero's warning


@dataclass
class Prepared:
    """The object to create (None when Velero skips the item, `skip_reason` says why), the backed-up
    status (for status restore) and the target's resource."""

    obj: dict | None
    skip_reason: str = ""
    status: dict | None = None
    has_status: bool = False
    resource: ResourceInfo | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def velero_skip_reason(item: PlannedItem, obj: dict, ctx: RestoreContext) -> str:
    """Why Velero does not restore this item even though the filters include it ("" if it does).
    Depends on the backup alone, so the planner uses it too."""
    gr = item.group_resource
    reason = actions.completed_reason(obj, gr)
    if reason:
        return reason
    if gr == "pods" and actions.is_mirror_pod(obj):
        return "mirror pod: Velero does not restore it"
    if gr == "persistentvolumes":
        decision, why = ctx.pv_decision(item.name if item.resource == "persistentvolumes" else "")
        if decision == actions.PV_PROVISION:
            return f"persistent volume {why}"
    if gr == "secrets":
        _secret, why = actions.secret_action(obj, ctx.service_accounts(item.source_namespace))
        if why:
            return why
    if ctx.spec.restore_pvs is False and gr in (
        "volumesnapshots.snapshot.storage.k8s.io",
        "volumesnapshotcontents.snapshot.storage.k8s.io",
    ):
        return "restore-pvs is false: snapshot objects are not restored"
    return ""


def restored_name(item_group_resource: str, obj: dict, restore: str) -> str:
    """The name an item is created under: snapshot objects are renamed, others keep theirs."""
    meta = obj.get("metadata") or {}
    if item_group_resource == "volumesnapshots.snapshot.storage.k8s.io":
        return actions.snapshot_restore_name(restore, meta.get("name") or "")
    if item_group_resource == "volumesnapshotcontents.snapshot.storage.k8s.io":
        ref = (obj.get("spec") or {}).get("volumeSnapshotRef") or {}
        return actions.snapshot_restore_name(restore, ref.get("name") or "")
    return meta.get("name") or ""


def prepare_item(item: PlannedItem, obj: dict, ctx: RestoreContext) -> Prepared:
    """The object as it will be created (see the module docstring)."""
    spec = ctx.spec
    gr = item.group_resource
    reason = velero_skip_reason(item, obj, ctx)
    if reason:
        return Prepared(None, reason)
    resource = ctx.resource_for(item.group, item.resource, item.version)
    if resource is None:  # Velero: a warning, "error getting updated resource client"
        message = (
            f"error getting updated resource client for namespace {item.namespace!r}, resource {gr!r}: "
            "the target cluster does not serve it"
        ).replace("'", '"')
        return Prepared(None, warnings=[message])
    backed_up = obj
    status = obj.get("status")
    has_status = "status" in obj
    if gr == "persistentvolumes":
        obj = actions.pv_action(obj, spec.namespace_mapping)
    out = actions.reset_metadata(obj)
    try:
        if gr == "pods":
            out = actions.pod_action(out)
            out = add_init_hooks(out, ctx.resource_hooks, item.namespace)
        elif gr == "services":
            out = actions.service_action(out, spec.preserve_node_ports)
        elif gr == "jobs.batch":
            out = actions.job_action(out)
        elif gr == "secrets":
            secret, _why = actions.secret_action(out, ctx.service_accounts(item.source_namespace))
            out = secret if secret is not None else out
        elif gr == "serviceaccounts":
            out = actions.service_account_action(out)
        elif gr in (
            "rolebindings.rbac.authorization.k8s.io",
            "clusterrolebindings.rbac.authorization.k8s.io",
        ):
            out = actions.binding_action(out, spec.namespace_mapping)
        elif gr == "persistentvolumeclaims":
            out = actions.claim_action(
                out,
                provisioned_volumes=ctx.provisioned_volumes(),
                restore_pvs=spec.restore_pvs,
                restore=ctx.restore_name,
            )
        elif gr == "volumesnapshots.snapshot.storage.k8s.io":
            out = actions.volume_snapshot_action(out, backed_up, ctx.restore_name)
        elif gr == "volumesnapshotcontents.snapshot.storage.k8s.io":
            driver = (backed_up.get("spec") or {}).get("driver") or ""
            out = actions.volume_snapshot_content_action(
                out, backed_up, ctx.restore_name, spec.namespace_mapping, ctx.snapshot_class_for(driver)
            )
    except ValueError as exc:
        return Prepared(None, errors=[f"error preparing {gr}/{item.name}: {exc}"])
    errors: list[str] = []
    if ctx.modifiers is not None:
        out, errors = ctx.modifiers.apply(out, gr)
    if item.namespace and resource.namespaced:
        out["metadata"]["namespace"] = item.namespace
    actions.add_restore_labels(out, ctx.restore_name, spec.backup_name)
    return Prepared(out, status=status, has_status=has_status, resource=resource, errors=errors)


def compare_existing(
    prepared: dict, existing: dict, ctx: RestoreContext
) -> tuple[bool, tuple[FieldDiff, ...]]:
    """(identical apart from Velero's changes, the field diff restored vs cluster)."""
    from_cluster = actions.comparable_cluster_object(existing, ctx.restore_labels)
    if actions.semantic_equal(from_cluster, prepared):
        return True, ()
    diffs = actions.field_diff(prepared, from_cluster)
    return False, tuple(FieldDiff(p, a, b) for p, a, b in diffs)


def _where(item: PlannedItem) -> str:
    return f"{item.namespace}/{item.name}" if item.namespace else item.name


def _resource_id(item: PlannedItem) -> str:
    return f"{item.group_resource}/{_where(item)}"


def restore_item(item: PlannedItem, ctx: RestoreContext) -> ItemOutcome:
    """Restore one item. Callable from several threads at once (one item each); never raises for
    a failure of the item (it is an error of the item's namespace in `ctx.results`)."""
    try:
        return _restore_item(item, ctx)
    except SourceError as exc:
        message = f"error restoring {_resource_id(item)}: {exc}"
        return _failed(item, ctx, message)


def _failed(item: PlannedItem, ctx: RestoreContext, message: str, *, record: bool = True) -> ItemOutcome:
    ctx.results.error(item.namespace, message)
    ctx.log.error(message, resource=item.group_resource, namespace=item.namespace, name=item.name)
    if record:
        ctx.results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
    return ItemOutcome(item, FAILED, message)


def _restore_item(item: PlannedItem, ctx: RestoreContext) -> ItemOutcome:
    gr = item.group_resource
    where = {"resource": gr, "namespace": item.namespace, "name": item.name}
    if gr == "namespaces":
        made = ctx.ensure_namespace(item.source_namespace or item.name, item.name)
        if not made:
            ctx.log.info("namespace exists", **where)
        return ItemOutcome(item, CREATED if made else SKIPPED)
    obj = ctx.contents.read_at(item.offset, item.length)
    if item.namespace:
        try:
            ctx.ensure_namespace(item.source_namespace, item.namespace)
        except SourceError as exc:
            message = f"error ensuring namespace {item.namespace}: {exc}"
            ctx.results.error(None, message)
            ctx.log.error(message, **where)
            return ItemOutcome(item, FAILED, message)
    prepared = prepare_item(item, obj, ctx)
    for message in prepared.errors:
        ctx.results.error(item.namespace, message)
        ctx.log.error(message, **where)
    for message in prepared.warnings:
        ctx.results.warn(item.namespace, message)
        ctx.log.warning(message, **where)
    if prepared.obj is None:
        if prepared.errors or prepared.warnings:
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
            return ItemOutcome(item, FAILED, (prepared.errors + prepared.warnings)[0])
        ctx.log.info(f"not restored: {prepared.skip_reason}", **where)
        recorded = not prepared.skip_reason.startswith("completed")
        if recorded:
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, SKIPPED)
        return ItemOutcome(item, SKIPPED, prepared.skip_reason)
    assert prepared.resource is not None
    resource = prepared.resource
    new = prepared.obj
    namespace = item.namespace or None
    try:
        created = ctx.target.create(resource, namespace, new)
    except SourceError as exc:
        if exc.status != 409:
            return _failed(item, ctx, f"error restoring {_resource_id(item)}: {exc.message}")
        existing = ctx.target.get(resource, namespace, item.name)
        if existing is None:
            return _failed(item, ctx, f"error restoring {_resource_id(item)}: {exc.message}")
        return _existing(item, ctx, resource, new, existing)
    result = ItemOutcome(item, CREATED)
    ctx.results.item(item.api_version, item.kind, item.namespace, item.name, CREATED)
    if prepared.has_status and actions.should_restore_status(
        new, gr, ctx.spec.status_includes, ctx.spec.status_excludes
    ):
        try:
            created = ctx.target.patch(
                resource, namespace, item.name, {"status": prepared.status}, subresource="status"
            )
        except SourceError as exc:
            message = f"status field update failed {_where(item)}: {exc}"
            ctx.results.warn(item.namespace, message)
            ctx.log.warning(message, **where)
    if gr == "pods":
        result.post_hooks = post_hooks_for(created, ctx.resource_hooks)
        if result.post_hooks:  # kept only when hooks need it: a tier may hold 100,000 outcomes
            result.pod = created
    return result


def _existing(
    item: PlannedItem, ctx: RestoreContext, resource: ResourceInfo, new: dict, existing: dict
) -> ItemOutcome:
    where = {"resource": item.group_resource, "namespace": item.namespace, "name": item.name}
    identical, diff = compare_existing(new, existing, ctx)
    policy = ctx.spec.existing_resource_policy
    namespace = item.namespace or None
    kind = new.get("kind") or item.kind
    if identical:
        if policy == "update":
            _patch_labels(item, ctx, resource, existing)
        ctx.log.info(
            f"Restore of {item.name} skipped: it already exists in the cluster and is the same as the "
            "backed up version",
            **where,
        )
        ctx.results.item(item.api_version, item.kind, item.namespace, item.name, SKIPPED)
        return ItemOutcome(item, SKIPPED, "exists, identical")
    from_cluster = actions.comparable_cluster_object(existing, {})
    if item.group_resource == "serviceaccounts":
        desired = _merge_service_accounts(from_cluster, new)
        patch = actions.create_merge_patch(from_cluster, desired)
        if patch is None:
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, SKIPPED)
            return ItemOutcome(item, SKIPPED, "exists, identical", diff=diff)
        try:
            ctx.target.patch(resource, namespace, item.name, patch, patch_type=MERGE_PATCH)
        except SourceError as exc:
            ctx.results.warn(item.namespace, str(exc))
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
            return ItemOutcome(item, FAILED, str(exc), diff=diff)
        ctx.log.info(f"ServiceAccount {_where(item)} successfully updated", **where)
        ctx.results.item(item.api_version, item.kind, item.namespace, item.name, UPDATED)
        return ItemOutcome(item, UPDATED, "service account merged", diff=diff)
    if policy == "update":
        labels = dict(from_cluster["metadata"].get("labels") or {})
        labels[actions.BACKUP_NAME_LABEL] = ""
        labels[actions.RESTORE_NAME_LABEL] = ""
        from_cluster["metadata"]["labels"] = labels
        patch = actions.create_merge_patch(from_cluster, new)
        if patch is None:
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, SKIPPED)
            return ItemOutcome(item, SKIPPED, "exists, identical", diff=diff)
        try:
            ctx.target.patch(resource, namespace, item.name, patch, patch_type=MERGE_PATCH)
        except SourceError as exc:
            message = f"could not update {kind} {item.name!r}: {exc.message}"
            ctx.results.warn(item.namespace, message)
            ctx.log.warning(message, **where)
            _patch_labels(item, ctx, resource, existing)
            ctx.results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
            return ItemOutcome(item, FAILED, message, diff=diff)
        ctx.log.info(f"{kind} {_where(item)} successfully updated", **where)
        ctx.results.item(item.api_version, item.kind, item.namespace, item.name, UPDATED)
        return ItemOutcome(item, UPDATED, "updated to the backed-up version", diff=diff)
    message = (
        f'could not restore, {kind} "{item.name}" already exists. Warning: the in-cluster version is '
        "different than the backed-up version"
    )
    ctx.results.warn(item.namespace, message)
    ctx.log.warning(message, **where)
    ctx.results.item(item.api_version, item.kind, item.namespace, item.name, FAILED)
    return ItemOutcome(item, FAILED, message, diff=diff, conflict=True)


def _patch_labels(item: PlannedItem, ctx: RestoreContext, resource: ResourceInfo, existing: dict) -> None:
    """updateBackupRestoreLabels: put the restore's two labels on an existing object."""
    labels = (existing.get("metadata") or {}).get("labels") or {}
    wanted = ctx.restore_labels
    if all(labels.get(k) == v for k, v in wanted.items()):
        return
    try:
        ctx.target.patch(resource, item.namespace or None, item.name, {"metadata": {"labels": wanted}})
    except SourceError as exc:
        ctx.results.error(item.namespace, f"error patching labels of {_resource_id(item)}: {exc.message}")


def _merge_service_accounts(from_cluster: dict, backed_up: dict) -> dict:
    """mergeServiceAccounts: the cluster's account plus the backup's secrets and image pull secrets
    it lacks, and the backup's labels and annotations over the cluster's."""
    desired = copy.deepcopy(from_cluster)
    for key in ("secrets", "imagePullSecrets"):
        have = list(desired.get(key) or [])
        names = {s.get("name") for s in have}
        for secret in backed_up.get(key) or []:
            if secret.get("name") not in names:
                have.append(secret)
        if have:
            desired[key] = have
    meta = desired.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        merged = {**(meta.get(key) or {}), **((backed_up.get("metadata") or {}).get(key) or {})}
        if merged:
            meta[key] = merged
    return desired
