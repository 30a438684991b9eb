"""What Velero's backup item actions change in a PersistentVolumeClaim before it is written.

Two actions touch a claim, in this order (the first one's comment says the CSI action "will add them
back"):

1. `PVCAction` (pkg/backup/actions/backup_pv_action.go), only for a Bound claim with a volume name:
   drop `spec.dataSource` and `spec.dataSourceRef` (left by an earlier restore from a snapshot);
   clear `spec.selector` unless `spec.storageClassName` is explicitly `""` (a claim reserving a
   static PV keeps it), and in a kept selector drop `velero.io/*` matchLabels; remove the stale
   labels `velero.io/restore-name`, `velero.io/volume-snapshot-name` and a `velero.io/backup-name`
   naming another backup. Other claims are written as read.
2. The CSI `pvcBackupItemAction` (pkg/backup/actions/csi/pvc_action.go), after it created the
   VolumeSnapshot: labels `velero.io/volume-snapshot-name=<vs>` and `velero.io/backup-name=<backup>`,
   annotation `velero.io/volume-snapshot-name=<vs>`. The restore reads that annotation to restore
   the claim from the snapshot (pkg/restore/actions/csi/pvc_action.go), so it must be there.

Both return a new dict; the object read from the cluster is left as it was.
"""

from __future__ import annotations

import copy

BACKUP_NAME_LABEL = "velero.io/backup-name"
RESTORE_NAME_LABEL = "velero.io/restore-name"
VOLUME_SNAPSHOT_LABEL = "velero.io/volume-snapshot-name"  # also the annotation's key
VELERO_PREFIX = "velero.io/"


def prepare_claim(pvc: dict, backup_name: str) -> dict:
    """The claim as Velero's PVCAction writes it (see the module docstring)."""
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    if status.get("phase") != "Bound" or not spec.get("volumeName"):
        return pvc
    out = copy.deepcopy(pvc)
    spec = out["spec"]
    spec.pop("dataSource", None)
    spec.pop("dataSourceRef", None)
    if spec.get("storageClassName") != "":
        spec.pop("selector", None)
    match_labels = (spec.get("selector") or {}).get("matchLabels")
    if match_labels:
        for key in [k for k in match_labels if k.startswith(VELERO_PREFIX)]:
            del match_labels[key]
    labels = (out.get("metadata") or {}).get("labels")
    if labels:
        for key, value in list(labels.items()):
            stale_backup = key == BACKUP_NAME_LABEL and value != backup_name
            if key in (RESTORE_NAME_LABEL, VOLUME_SNAPSHOT_LABEL) or stale_backup:
                del labels[key]
    return out


def mark_snapshot(pvc: dict, volume_snapshot: str, backup_name: str) -> dict:
    """The claim with the CSI action's labels and annotation naming its VolumeSnapshot."""
    out = copy.deepcopy(pvc)
    meta = out.setdefault("metadata", {})
    meta["labels"] = {
        **(meta.get("labels") or {}),
        VOLUME_SNAPSHOT_LABEL: volume_snapshot,
        BACKUP_NAME_LABEL: backup_name,
    }
    meta["annotations"] = {**(meta.get("annotations") or {}), VOLUME_SNAPSHOT_LABEL: volume_snapshot}
    return out
