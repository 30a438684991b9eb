"""`velero-backup.json`: the Backup CR (velero.io/v1) Velero reads back, built from three
dataclasses (what the backup covers, where and how, how it went) so that both runners say it
the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backups.engine.durations import go_duration, parse_duration
from backups.engine.planning.label_selectors import label_selector_object
from backups.engine.planning.spec import BackupSpec

from .layout import BACKUP_FORMAT_VERSION

RESOURCE_POLICY_ANNOTATION = "veloweb.io/resource-policy"
RESOURCE_POLICY_KIND = "configmap"  # Velero's resourcepolicies.ConfigmapRefType


def _as_datetime(value: datetime | float | int) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


def rfc3339(value: datetime | float | int | str | None) -> str | None:
    """`2026-05-20T10:00:00Z` (UTC, whole seconds, as metav1.Time). Naive datetimes are taken as UTC;
    numbers are Unix timestamps; strings pass through."""
    if value is None or isinstance(value, str):
        return value
    return _as_datetime(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class BackupJsonSpec:
    """What the backup covers: Velero's spec fields from the backup's options."""

    included_namespaces: Iterable[str] = ()
    excluded_namespaces: Iterable[str] = ()
    included_resources: Iterable[str] = ()
    excluded_resources: Iterable[str] = ()
    include_cluster_resources: bool | None = None
    label_selector: dict | None = None  # a metav1.LabelSelector
    or_label_selectors: Iterable[dict | None] = ()
    included_cluster_scoped_resources: Iterable[str] = ()
    excluded_cluster_scoped_resources: Iterable[str] = ()
    included_namespace_scoped_resources: Iterable[str] = ()
    excluded_namespace_scoped_resources: Iterable[str] = ()
    resource_policy: str | None = None  # the YAML document
    ordered_resources: dict[str, str] | None = None  # resource -> "ns/a,ns/b"
    hooks: dict | None = None  # `spec.hooks` as given
    volume_group_snapshot_label_key: str = "velero.io/volume-group"

    @classmethod
    def from_spec(cls, spec: BackupSpec, hooks: dict | None = None) -> BackupJsonSpec:
        """The engine's spec as Velero writes it: selectors as LabelSelector objects, ordered
        resources as comma-separated lists, the default "*" include as an empty list."""
        return cls(
            included_namespaces=spec.included_namespaces,
            excluded_namespaces=spec.excluded_namespaces,
            included_resources=[] if spec.included_resources == ["*"] else spec.included_resources,
            excluded_resources=spec.excluded_resources,
            include_cluster_resources=spec.include_cluster_resources,
            label_selector=label_selector_object(spec.label_selector),
            or_label_selectors=[label_selector_object(s) for s in spec.or_label_selectors],
            included_cluster_scoped_resources=spec.included_cluster_scoped_resources,
            excluded_cluster_scoped_resources=spec.excluded_cluster_scoped_resources,
            included_namespace_scoped_resources=spec.included_namespace_scoped_resources,
            excluded_namespace_scoped_resources=spec.excluded_namespace_scoped_resources,
            resource_policy=spec.resource_policy,
            ordered_resources={k: ",".join(v) for k, v in spec.ordered_resources.items()},
            hooks=hooks or {},
            volume_group_snapshot_label_key=spec.volume_group_label_key,
        )


@dataclass
class BackupJsonOptions:
    """Where and how: the storage location, durations, Velero's settings, the object's metadata."""

    namespace: str = "velero"
    storage_location: str = "default"
    ttl: str | float | timedelta = "720h0m0s"
    volume_snapshot_locations: Iterable[str] = ()
    item_operation_timeout: str | float | timedelta = "4h0m0s"
    csi_snapshot_timeout: str | float | timedelta = "10m0s"
    default_volumes_to_fs_backup: bool = False
    snapshot_move_data: bool = False
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    creation: datetime | float | None = None


@dataclass
class BackupJsonStatus:
    """How it went: the phase, the times and the counters."""

    phase: str = "InProgress"
    start: datetime | float | None = None
    completion: datetime | float | None = None
    expiration: datetime | float | None = None
    errors: int = 0
    warnings: int = 0
    total_items: int = 0
    items_backed_up: int = 0
    hooks_attempted: int = 0
    hooks_failed: int = 0
    csi_snapshots_attempted: int = 0
    csi_snapshots_completed: int = 0
    failure_reason: str = ""


def velero_backup_json(
    name: str,
    spec: BackupJsonSpec | None = None,
    options: BackupJsonOptions | None = None,
    status: BackupJsonStatus | None = None,
) -> dict:
    """The Backup CR (velero.io/v1) for `velero-backup.json`.

    Empty `included_namespaces` becomes `["*"]` (as Velero normalises it). The scoped resource lists
    and `or_label_selectors` (LabelSelector objects) are omitted when empty, as Go's omitempty does. A
    `resource_policy` (the YAML) becomes Velero's `spec.resourcePolicy`, a reference to a ConfigMap
    named after the backup, and is kept whole in the `veloweb.io/resource-policy` annotation (Velero
    ignores it; an import reads it back). `expiration` defaults to
    `start + ttl` (computed at start, spec 2 (e)). Durations may be Go strings, seconds or timedeltas;
    times may be datetimes (naive = UTC) or Unix timestamps. Unset optional pointers
    (`include_cluster_resources`, `label_selector`, timestamps) are omitted, as Go's omitempty does.
    """
    spec = spec or BackupJsonSpec()
    options = options or BackupJsonOptions()
    status = status or BackupJsonStatus()
    ttl_text = go_duration(options.ttl)
    expiration = status.expiration
    if expiration is None and status.start is not None:
        expiration = _as_datetime(status.start) + timedelta(seconds=parse_duration(ttl_text))
    metadata: dict = {
        "name": name,
        "namespace": options.namespace,
        "labels": {**(options.labels or {}), "velero.io/storage-location": options.storage_location},
    }
    annotations = dict(options.annotations or {})
    if spec.resource_policy:
        annotations[RESOURCE_POLICY_ANNOTATION] = spec.resource_policy
    if annotations:
        metadata["annotations"] = annotations
    if options.uid:
        metadata["uid"] = options.uid
    if options.creation is not None or status.start is not None:
        created = options.creation if options.creation is not None else status.start
        metadata["creationTimestamp"] = rfc3339(created)
    spec_json: dict = {
        "metadata": {},
        "includedNamespaces": list(spec.included_namespaces) or ["*"],
        "excludedNamespaces": list(spec.excluded_namespaces),
        "includedResources": list(spec.included_resources),
        "excludedResources": list(spec.excluded_resources),
    }
    for key, values in (
        ("includedClusterScopedResources", spec.included_cluster_scoped_resources),
        ("excludedClusterScopedResources", spec.excluded_cluster_scoped_resources),
        ("includedNamespaceScopedResources", spec.included_namespace_scoped_resources),
        ("excludedNamespaceScopedResources", spec.excluded_namespace_scoped_resources),
    ):
        if values:
            spec_json[key] = list(values)
    if spec.label_selector is not None:
        spec_json["labelSelector"] = spec.label_selector
    if spec.or_label_selectors:
        spec_json["orLabelSelectors"] = list(spec.or_label_selectors)
    if spec.ordered_resources:
        spec_json["orderedResources"] = dict(spec.ordered_resources)
    spec_json["ttl"] = ttl_text
    if spec.include_cluster_resources is not None:
        spec_json["includeClusterResources"] = spec.include_cluster_resources
    spec_json.update(
        {
            "hooks": spec.hooks if spec.hooks is not None else {},
            "storageLocation": options.storage_location,
            "volumeSnapshotLocations": list(options.volume_snapshot_locations),
            "defaultVolumesToFsBackup": options.default_volumes_to_fs_backup,
            "snapshotMoveData": options.snapshot_move_data,
            "csiSnapshotTimeout": go_duration(options.csi_snapshot_timeout),
            "itemOperationTimeout": go_duration(options.item_operation_timeout),
            "volumeGroupSnapshotLabelKey": spec.volume_group_snapshot_label_key,
        }
    )
    if spec.resource_policy:
        spec_json["resourcePolicy"] = {"kind": RESOURCE_POLICY_KIND, "name": name}
    status_json: dict = {"version": 1, "formatVersion": BACKUP_FORMAT_VERSION, "phase": status.phase}
    if expiration is not None:
        status_json["expiration"] = rfc3339(expiration)
    if status.start is not None:
        status_json["startTimestamp"] = rfc3339(status.start)
    if status.completion is not None:
        status_json["completionTimestamp"] = rfc3339(status.completion)
    if status.failure_reason:
        status_json["failureReason"] = status.failure_reason
    if status.csi_snapshots_attempted:  # omitempty, like Go
        status_json["csiVolumeSnapshotsAttempted"] = status.csi_snapshots_attempted
    if status.csi_snapshots_completed:
        status_json["csiVolumeSnapshotsCompleted"] = status.csi_snapshots_completed
    status_json.update(
        {
            "errors": status.errors,
            "warnings": status.warnings,
            "progress": {"totalItems": status.total_items, "itemsBackedUp": status.items_backed_up},
            "hookStatus": {"hooksAttempted": status.hooks_attempted, "hooksFailed": status.hooks_failed},
        }
    )
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": metadata,
        "spec": spec_json,
        "status": status_json,
    }


def dump_backup_json(backup: dict) -> bytes:
    """`velero-backup.json` bytes: pretty JSON, as Velero uploads it."""
    return (json.dumps(backup, indent=2) + "\n").encode("utf-8")
