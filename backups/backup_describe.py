"""`velero backup describe` for the backup page: the spec the backup was asked for and its status
fields, in Velero's order and words (pkg/cmd/util/output/backup_describer.go), as labelled rows.

Spec fields that Velero's describer does not name (ours, or filters added later) are listed
after the others under their field names, so a new spec field shows without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backups.engine.planning.label_selectors import Selector
from backups.engine.velero_format.layout import BACKUP_FORMAT_VERSION
from backups.models import Backup, VeleroSpec

NONE = "<none>"


@dataclass
class Section:
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, label: str, value) -> None:
        self.rows.append((label, value))


def _list(values, empty: str = NONE) -> str:
    return ", ".join(str(v) for v in values) if values else empty


def _tri(value: bool | None, false: str, true: str, unset: str) -> str:
    return unset if value is None else true if value else false


def _selector(value) -> str:
    if not value:
        return NONE
    if isinstance(value, str):
        return value
    try:
        return str(Selector.from_label_selector(value))
    except (ValueError, TypeError):
        return str(value)


def _time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %z") if value else "<n/a>"


_DESCRIBED = {
    "included_namespaces", "excluded_namespaces", "included_resources", "excluded_resources",
    "include_cluster_resources", "label_selector", "included_cluster_scoped_resources",
    "excluded_cluster_scoped_resources", "included_namespace_scoped_resources",
    "excluded_namespace_scoped_resources", "or_label_selectors", "resource_policy", "ordered_resources",
    "hooks", "ttl", "volume_group_label_key", "snapshot_volumes", "csi_snapshot_timeout", "workers",
}  # fmt: skip


def spec_sections(backup: Backup) -> list[Section]:
    namespaces = Section("Namespaces")
    namespaces.add("Included", _list(backup.included_namespaces, "*"))
    namespaces.add("Excluded", _list(backup.excluded_namespaces))

    resources = Section("Resources")
    scoped = any(
        getattr(backup, f)
        for f in (
            "included_cluster_scoped_resources", "excluded_cluster_scoped_resources",
            "included_namespace_scoped_resources", "excluded_namespace_scoped_resources",
        )
    )  # fmt: skip
    if not scoped:  # Velero's old-style filters (the default)
        resources.add("Included", _list(backup.included_resources, "*"))
        resources.add("Excluded", _list(backup.excluded_resources))
        resources.add(
            "Cluster-scoped", _tri(backup.include_cluster_resources, "excluded", "included", "auto")
        )
    else:
        resources.add("Included cluster-scoped", _list(backup.included_cluster_scoped_resources))
        resources.add("Excluded cluster-scoped", _list(backup.excluded_cluster_scoped_resources))
        resources.add("Included namespace-scoped", _list(backup.included_namespace_scoped_resources, "*"))
        resources.add("Excluded namespace-scoped", _list(backup.excluded_namespace_scoped_resources))

    selection = Section("Selection")
    selection.add("Label selector", backup.label_selector or NONE)
    selection.add(
        "Or label selector", " or ".join(backup.or_label_selectors) if backup.or_label_selectors else NONE
    )
    selection.add(
        "Resource policy",
        f"{len(backup.resource_policy.splitlines())} lines" if backup.resource_policy else NONE,
    )
    if backup.ordered_resources:
        for kind, names in sorted(backup.ordered_resources.items()):
            selection.add(f"Ordered {kind}", names if isinstance(names, str) else _list(names))

    storage = Section("Storage and snapshots")
    storage.add("Storage Location", backup.storage_location.name if backup.storage_location else "default")
    storage.add("Velero-Native Snapshot PVs", _tri(backup.snapshot_volumes, "false", "true", "auto"))
    storage.add("Volume group label key", backup.volume_group_label_key or NONE)
    storage.add("TTL", backup.ttl)
    storage.add("CSISnapshotTimeout", backup.csi_snapshot_timeout)
    storage.add("Workers", str(backup.workers))
    extra = [
        f for f in VeleroSpec._meta.get_fields() if getattr(f, "attname", None) and f.name not in _DESCRIBED
    ]
    for spec_field in extra:
        value = getattr(backup, spec_field.attname)
        shown = _list(value) if isinstance(value, list) else NONE if value in (None, "", {}) else str(value)
        storage.add(str(spec_field.verbose_name).capitalize(), shown)

    sections = [namespaces, resources, selection, storage]
    sections += hook_sections(backup.hooks)
    return sections


def hook_sections(hooks) -> list[Section]:
    resources = (hooks or {}).get("resources") if isinstance(hooks, dict) else None
    if not resources:
        return [Section("Hooks", [("Hooks", NONE)])]
    sections = []
    for spec in resources:
        if not isinstance(spec, dict):
            continue
        section = Section(f"Hook {spec.get('name') or '(unnamed)'}")
        section.add("Namespaces included", _list(spec.get("includedNamespaces"), "*"))
        section.add("Namespaces excluded", _list(spec.get("excludedNamespaces")))
        section.add("Resources included", _list(spec.get("includedResources"), "*"))
        section.add("Resources excluded", _list(spec.get("excludedResources")))
        section.add("Label selector", _selector(spec.get("labelSelector")))
        for phase, label in (("pre", "Pre Exec Hook"), ("post", "Post Exec Hook")):
            for hook in spec.get(phase) or []:
                run = hook.get("exec") if isinstance(hook, dict) else None
                if not isinstance(run, dict):
                    continue
                command = run.get("command")
                command = " ".join(command) if isinstance(command, list) else str(command or "")
                section.add(
                    label,
                    f"container {run.get('container') or '(first)'} · {command} · on error "
                    f"{run.get('onError') or 'Continue'} · timeout {run.get('timeout') or '30s'}",
                )
        sections.append(section)
    return sections


def status_section(backup: Backup) -> Section:
    status = Section("Status")
    status.add("Phase", backup.get_phase_display())
    if backup.validation_errors:
        status.add("Validation errors", "; ".join(map(str, backup.validation_errors)))
    if backup.failure_reason:
        status.add("Failure reason", backup.failure_reason)
    status.add("Errors", str(backup.errors))
    status.add("Warnings", str(backup.warnings))
    status.add("Backup Format Version", BACKUP_FORMAT_VERSION)
    status.add("Started", _time(backup.started))
    status.add("Completed", _time(backup.completed))
    status.add("Expiration", _time(backup.expiration))
    in_progress = backup.phase in Backup.RUNNING
    status.add(
        "Estimated total items to be backed up" if in_progress else "Total items to be backed up",
        str(backup.total_items),
    )
    status.add("Items backed up so far" if in_progress else "Items backed up", str(backup.items_backed_up))
    if backup.snapshot_volumes is False:
        status.add("Backup Volumes", "<none included>")
    else:
        status.add(
            "CSI snapshots",
            f"{backup.snapshots_completed} of {backup.snapshots_attempted} completed",
        )
    status.add("HooksAttempted", str(backup.hooks_attempted))
    status.add("HooksFailed", str(backup.hooks_failed))
    return status


def describe(backup: Backup) -> list[Section]:
    return [*spec_sections(backup), status_section(backup)]
