"""Velero's volume info file (`<name>-volumeinfo.json.gz`, Velero 1.14+): one entry per volume.

`velero backup describe --details` and the restore read it. Entries follow `BackupVolumeInfo` in
Velero's internal/volume/volumes_information.go, built like `generateVolumeInfoForCSIVolumeSnapshot`
for each CSI snapshot taken: the claim, its PV (reclaim policy and labels), the snapshot handle, the
size from the VolumeSnapshot's `status.restoreSize`, the driver and VolumeSnapshotContent name,
`startTimestamp` from the VolumeSnapshot's `status.creationTime`. Velero fills `completionTimestamp`
and `result` when its async operation sees the snapshot ready; Veloweb has no async operations, so
they are set only when the snapshot was already `readyToUse` once its handle appeared. Snapshots
that failed were deleted and have no entry (as in Velero, which finds no VolumeSnapshot for them).
A volume a volume policy kept from its snapshot has an entry like Velero's
`generateVolumeInfoForSkippedPV`: `skipped` with the reasons. Go's field order and its untagged
`ReadyToUse` key are kept.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from backups.engine.running.csi_snapshots import SnapshotResult

from .backup_json import rfc3339

CSI_SNAPSHOT = "CSISnapshot"
_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity_value(quantity: str | int | float | None) -> int:
    """A Kubernetes quantity as `resource.Quantity.Value()` gives it: whole units, rounded up; 0 if unset
    or unreadable."""
    if quantity is None:
        return 0
    if isinstance(quantity, int | float):
        return math.ceil(quantity)
    match = _QUANTITY.match(str(quantity).strip())
    if not match or match.group(2) not in _SUFFIXES:
        return 0
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return 0
    return math.ceil(number * Decimal(_SUFFIXES[match.group(2)]))


def volume_info(taken: SnapshotResult) -> dict | None:
    """The volume info entry of a claim's snapshot step: skipped, taken, or None (failed)."""
    return skipped_volume_info(taken) if taken.skipped else csi_volume_info(taken)


def skipped_volume_info(taken: SnapshotResult) -> dict | None:
    """The entry of a volume that a volume policy kept from its snapshot."""
    if not taken.skipped:
        return None
    pv = taken.volume or {}
    return {
        "pvcName": taken.pvc,
        "pvcNamespace": taken.namespace,
        "pvName": (pv.get("metadata") or {}).get("name", ""),
        "snapshotDataMoved": False,
        "preserveLocalSnapshot": False,
        "skipped": True,
        "skippedReason": taken.skipped,
        "pvInfo": {
            "reclaimPolicy": (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
            "labels": (pv.get("metadata") or {}).get("labels"),
        },
    }


def skipped_summary(infos: list[dict]) -> list[dict]:
    """Velero's "Summary for skipped PVs" (SkipPVTracker.Summary): `{name, reasons: [{approach,
    reason}]}` per skipped volume, by name."""
    summary = []
    for info in sorted((i for i in infos if i.get("skipped")), key=lambda i: i["pvName"]):
        reasons = []
        for part in filter(None, info["skippedReason"].split(";")):
            approach, _, reason = part.partition(": ")
            reasons.append({"approach": approach, "reason": reason})
        summary.append({"name": info["pvName"], "reasons": reasons})
    return summary


def csi_volume_info(taken: SnapshotResult) -> dict | None:
    """The volume info entry of a CSI snapshot taken; None for one that failed."""
    if not taken.ok or not taken.volume_snapshot:
        return None
    vs_status = taken.volume_snapshot.get("status") or {}
    vsc = taken.volume_snapshot_content or {}
    pv = taken.volume or {}
    info: dict = {
        "pvcName": taken.pvc,
        "pvcNamespace": taken.namespace,
        "pvName": (pv.get("metadata") or {}).get("name", ""),
        "backupMethod": CSI_SNAPSHOT,
        "snapshotDataMoved": False,
        "preserveLocalSnapshot": True,
        "skipped": False,
    }
    if vs_status.get("creationTime"):
        info["startTimestamp"] = rfc3339(vs_status["creationTime"])
    ready = vs_status.get("readyToUse")
    if ready is True:
        info["completionTimestamp"] = rfc3339(taken.finished)
        info["result"] = "succeeded"
    info["csiSnapshotInfo"] = {
        "snapshotHandle": taken.handle,
        "size": quantity_value(vs_status.get("restoreSize")),
        "driver": (vsc.get("spec") or {}).get("driver") or taken.driver,
        "vscName": vs_status.get("boundVolumeSnapshotContentName", ""),
        "ReadyToUse": ready if isinstance(ready, bool) else None,
    }
    info["pvInfo"] = {
        "reclaimPolicy": (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", ""),
        "labels": (pv.get("metadata") or {}).get("labels"),
    }
    return info
