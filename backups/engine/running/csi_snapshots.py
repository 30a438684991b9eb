"""CSI snapshots of PersistentVolumeClaims, the way Velero's CSI plugin takes them.

The backup's volume policies decide first (Velero's volume helper): `snapshot` takes one even when
the backup's snapshotVolumes is false; `skip`, `fs-backup` and `custom` take none and the result
says the volume was skipped and why (Velero's skipped-PV reasons); no match leaves it to
snapshotVolumes. Then, for a Bound PVC whose PV is a CSI volume: pick the driver's
VolumeSnapshotClass, create a VolumeSnapshot with the claim's labels plus the backup name, and wait
until its VolumeSnapshotContent has a snapshot handle (Velero's synchronous part; `readyToUse` is not
awaited). The VolumeSnapshot, VolumeSnapshotContent and VolumeSnapshotClass are returned so the
caller can write them into the backup as additional items.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from backups.engine.log import BackupLog
from backups.engine.planning.resource_policies import CUSTOM, FS_BACKUP, SKIP, SNAPSHOT, ResourcePolicies
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import LiveSource, SourceError

BACKUP_NAME_LABEL = "velero.io/backup-name"
CLASS_LABEL = "velero.io/csi-volumesnapshot-class"
DEFAULT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"
VS_RESOURCE = "volumesnapshots.snapshot.storage.k8s.io"
VSC_RESOURCE = "volumesnapshotcontents.snapshot.storage.k8s.io"
VSCLASS_RESOURCE = "volumesnapshotclasses.snapshot.storage.k8s.io"
PVC_RESOURCE = "persistentvolumeclaims"
_MAX_LABEL = 63
_NO_VOLUME_SNAPSHOT = "volumeSnapshot: not satisfy the criteria for VolumePolicy or the legacy snapshot way;"
# Velero's skipped-PV summary of a volume whose policy action takes no snapshot (SerializeSkipReasons:
# "<approach>: <reason>;" per approach, sorted); fs-backup and custom name what Veloweb lacks
SKIPPED_REASONS = {
    SKIP: "any: skipped due to resource policy ;" + _NO_VOLUME_SNAPSHOT,
    FS_BACKUP: "podvolume: matched action is 'fs-backup' in chosen resource policies, and Veloweb has no "
    "file-system backup;" + _NO_VOLUME_SNAPSHOT,
    CUSTOM: "any: matched action is 'custom' in chosen resource policies, left to a plugin Veloweb does "
    "not run;" + _NO_VOLUME_SNAPSHOT,
}


@dataclass(slots=True)
class SnapshotResult:
    namespace: str
    pvc: str
    volume_snapshot: dict | None  # None only when the create itself failed
    volume_snapshot_content: dict | None
    snapshot_class: dict | None  # None only when the classes could not be read
    driver: str
    handle: str | None
    restore_size: int | str | None  # VSC status.restoreSize (bytes), else the VS's quantity
    started: float  # wall-clock (time.time())
    finished: float
    error: str | None = None
    volume: dict | None = None  # the PersistentVolume, for the volume info file
    skipped: str | None = None  # a volume policy took no snapshot: Velero's skipped-PV reasons

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.handle)

    @property
    def attempted(self) -> bool:
        """A snapshot was asked for (Velero's csiVolumeSnapshotsAttempted counts it)."""
        return self.skipped is None


def label_value(value: str) -> str:
    """Velero's label.GetValidName: values over 63 chars become 57 chars + 6 hex of their sha256."""
    if len(value) <= _MAX_LABEL:
        return value
    return value[:57] + hashlib.sha256(value.encode()).hexdigest()[:6]


def choose_class(classes: Iterable[dict], driver: str) -> dict | None:
    """The driver's VolumeSnapshotClass: labelled for Velero, else the default one, else the only one."""
    candidates = [c for c in classes if c.get("driver") == driver]
    for c in candidates:
        if str(_labels(c).get(CLASS_LABEL, "")).lower() == "true":
            return c
    for c in candidates:
        if str(_annotations(c).get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true":
            return c
    if len(candidates) == 1:
        return candidates[0]
    return None


def expected_snapshot(
    pvc: dict,
    pv: dict | None,
    *,
    policies: ResourcePolicies | None,
    snapshot_volumes: bool,
    snapshot_classes: list[dict],
) -> tuple[dict | None, str]:
    """Whether `snapshot_claim` would take a snapshot of this claim, told without creating
    anything (the preview): (the VolumeSnapshotClass it would use, "") or (None, why not). The
    same checks in the same order: bound, volume found, volume policy, snapshotVolumes, CSI
    driver, a class for the driver."""
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    if status.get("phase") != "Bound" or not spec.get("volumeName"):
        return None, "claim not bound to a volume"
    if pv is None:
        return None, "volume not found"
    action = policies.action_for(pv, pvc) if policies is not None else None
    if action is not None and action != SNAPSHOT:
        return None, f"volume policy {action!r}"
    if action is None and not snapshot_volumes:
        return None, "snapshotVolumes is false and no volume policy matches"
    driver = ((pv.get("spec") or {}).get("csi") or {}).get("driver") or ""
    if not driver:
        return None, "not a CSI volume"
    cls = choose_class(snapshot_classes, driver)
    if cls is None:
        return None, f"no VolumeSnapshotClass for driver {driver}"
    return cls, ""


def snapshot_claim(
    pvc: dict,
    *,
    source: LiveSource,
    table: ResourceTable,
    backup_name: str,
    log: BackupLog,
    timeout: float = 600,
    poll: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    snapshot_classes: list[dict] | None = None,
    policies: ResourcePolicies | None = None,
    snapshot_volumes: bool = True,
) -> SnapshotResult | None:
    """Take a CSI snapshot of one PVC; None when Velero would skip it (info logged), a result with
    `skipped` set when a volume policy says no snapshot.

    `source` needs get/list/create/delete (a KubeSource). `snapshot_classes` may carry the
    VolumeSnapshotClasses already listed for the backup (else they are listed here). A failure
    (create refused, error status, timeout) is an error-level log entry naming the PVC and a
    result with `error` set; the VolumeSnapshot created, if any, is deleted (best effort).
    """
    meta = pvc.get("metadata") or {}
    ns, name = meta.get("namespace") or "", meta.get("name") or ""
    where = {"resource": PVC_RESOURCE, "namespace": ns, "name": name}
    started = time.time()

    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    volume = spec.get("volumeName")
    if status.get("phase") != "Bound" or not volume:
        log.info("PVC is not bound to a PersistentVolume: no CSI snapshot", **where)
        return None

    infos = _infos(table)
    if infos is None:
        log.info("the snapshot.storage.k8s.io resources are not served: no CSI snapshot", **where)
        return None
    pv_info, vs_info, vsc_info, class_info = infos

    def failed(
        message: str, vs: dict | None, vsc: dict | None, cls: dict | None, driver: str
    ) -> SnapshotResult:
        log.error(f"CSI snapshot of PVC {ns}/{name} failed: {message}", **where)
        if vs is not None and (vs.get("metadata") or {}).get("name"):
            try:
                source.delete(vs_info, ns, vs["metadata"]["name"])
            except SourceError as exc:
                log.warning(f"could not delete VolumeSnapshot {vs['metadata']['name']}: {exc}", **where)
        return SnapshotResult(ns, name, vs, vsc, cls, driver, None, None, started, time.time(), message)

    try:
        pv = source.get(pv_info, None, volume)
    except SourceError as exc:
        return failed(f"cannot read PersistentVolume {volume}: {exc}", None, None, None, "")
    if pv is None:
        log.info(f"PersistentVolume {volume} not found: no CSI snapshot", **where)
        return None
    action = policies.action_for(pv, pvc) if policies is not None else None
    if action is not None and action != SNAPSHOT:
        log.info(f"volume policy {action!r} for PersistentVolume {volume}: no CSI snapshot", **where)
        skipped = SKIPPED_REASONS[action]
        return SnapshotResult(
            ns, name, None, None, None, "", None, None, started, time.time(), None, pv, skipped
        )
    if action is None and not snapshot_volumes:
        log.info("snapshotVolumes is false and no volume policy matches: no CSI snapshot", **where)
        return None
    driver = ((pv.get("spec") or {}).get("csi") or {}).get("driver") or ""
    if not driver:
        log.info(f"PersistentVolume {volume} is not a CSI volume: no CSI snapshot", **where)
        return None

    if snapshot_classes is None:
        try:
            snapshot_classes = list(source.list(class_info))
        except SourceError as exc:
            return failed(f"cannot list VolumeSnapshotClasses: {exc}", None, None, None, driver)
    cls = choose_class(snapshot_classes, driver)
    if cls is None:
        log.info(f"no VolumeSnapshotClass for driver {driver}: no CSI snapshot", **where)
        return None
    class_name = (cls.get("metadata") or {}).get("name", "")

    request = {
        "apiVersion": vs_info.api_version,
        "kind": vs_info.kind,
        "metadata": {
            "generateName": f"velero-{name}-",
            "namespace": ns,
            # Velero's CSI action copies the claim's labels (pvc_action.go createVolumeSnapshot)
            "labels": {**(meta.get("labels") or {}), BACKUP_NAME_LABEL: label_value(backup_name)},
        },
        "spec": {
            "volumeSnapshotClassName": class_name,
            "source": {"persistentVolumeClaimName": name},
        },
    }
    try:
        vs = source.create(vs_info, ns, request)
    except SourceError as exc:
        return failed(f"cannot create VolumeSnapshot: {exc}", None, None, cls, driver)
    vs_name = vs["metadata"]["name"]
    log.info(f"created VolumeSnapshot {ns}/{vs_name} (class {class_name})", **where)

    deadline = clock() + timeout
    vsc: dict | None = None
    while True:
        try:
            current = source.get(vs_info, ns, vs_name)
        except SourceError as exc:
            return failed(f"cannot read VolumeSnapshot {vs_name}: {exc}", vs, vsc, cls, driver)
        if current is None:
            return failed(f"VolumeSnapshot {vs_name} disappeared", None, vsc, cls, driver)
        vs = current
        vs_status = vs.get("status") or {}
        message = _error(vs_status)
        if message:
            return failed(f"VolumeSnapshot {vs_name}: {message}", vs, vsc, cls, driver)
        content = vs_status.get("boundVolumeSnapshotContentName")
        if content:
            try:
                vsc = source.get(vsc_info, None, content) or vsc
            except SourceError as exc:
                return failed(f"cannot read VolumeSnapshotContent {content}: {exc}", vs, vsc, cls, driver)
            vsc_status = (vsc or {}).get("status") or {}
            message = _error(vsc_status)
            if message:
                return failed(f"VolumeSnapshotContent {content}: {message}", vs, vsc, cls, driver)
            handle = vsc_status.get("snapshotHandle")
            if handle:
                size = vsc_status.get("restoreSize")
                if size is None:
                    size = vs_status.get("restoreSize")
                log.info(f"VolumeSnapshot {ns}/{vs_name} has snapshot handle {handle}", **where)
                return SnapshotResult(
                    ns, name, vs, vsc, cls, driver, handle, size, started, time.time(), volume=pv
                )
        left = deadline - clock()
        if left <= 0:
            return failed(
                f"timed out after {timeout:g}s waiting for the snapshot handle of PVC {ns}/{name}",
                vs,
                vsc,
                cls,
                driver,
            )
        sleep(min(poll, left))


def _infos(table: ResourceTable) -> tuple[ResourceInfo, ResourceInfo, ResourceInfo, ResourceInfo] | None:
    pv, vs, vsc, vsclass = (
        table.by_group_resource(gr)
        for gr in ("persistentvolumes", VS_RESOURCE, VSC_RESOURCE, VSCLASS_RESOURCE)
    )
    if pv is None or vs is None or vsc is None or vsclass is None:
        return None
    return pv, vs, vsc, vsclass


def _error(status: dict) -> str:
    error = status.get("error") or {}
    return str(error.get("message") or "") if isinstance(error, dict) else ""


def _labels(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("labels") or {}


def _annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}
