"""Velero's volume info entry for a CSI snapshot taken through the emulator's snapshot controller."""

import pytest

from backups.engine.log import BackupLog
from backups.engine.running.csi_snapshots import SnapshotResult, snapshot_claim
from backups.engine.velero_format.volume_info import csi_volume_info, quantity_value


def test_a_csi_snapshot_is_described_as_velero_describes_it(emu, source):
    claim = emu.get("persistentvolumeclaims", "shop", "data-db-0")
    taken = snapshot_claim(
        claim, source=source, table=source.resources(), backup_name="b", log=BackupLog(), poll=0.05
    )
    assert taken.ok
    vs = emu.get("volumesnapshots.snapshot.storage.k8s.io", "shop", taken.volume_snapshot["metadata"]["name"])
    pv = emu.get("persistentvolumes", None, claim["spec"]["volumeName"])

    info = csi_volume_info(taken)

    assert list(info) == [
        "pvcName",
        "pvcNamespace",
        "pvName",
        "backupMethod",
        "snapshotDataMoved",
        "preserveLocalSnapshot",
        "skipped",
        "startTimestamp",
        "completionTimestamp",
        "result",
        "csiSnapshotInfo",
        "pvInfo",
    ]  # Go's field order
    assert (info["pvcNamespace"], info["pvcName"], info["pvName"]) == (
        "shop",
        "data-db-0",
        pv["metadata"]["name"],
    )
    assert info["backupMethod"] == "CSISnapshot" and info["snapshotDataMoved"] is False
    assert info["startTimestamp"] == vs["status"]["creationTime"]
    assert info["result"] == "succeeded"
    assert info["csiSnapshotInfo"] == {
        "snapshotHandle": taken.handle,
        "size": quantity_value(vs["status"]["restoreSize"]),
        "driver": pv["spec"]["csi"]["driver"],
        "vscName": vs["status"]["boundVolumeSnapshotContentName"],
        "ReadyToUse": True,
    }
    assert info["csiSnapshotInfo"]["size"] > 0
    assert info["pvInfo"] == {
        "reclaimPolicy": pv["spec"]["persistentVolumeReclaimPolicy"],
        "labels": pv["metadata"].get("labels"),
    }


def test_a_failed_snapshot_has_no_entry():
    failed = SnapshotResult("shop", "x", None, None, None, "d", None, None, 0.0, 1.0, error="refused")
    assert csi_volume_info(failed) is None


def test_a_snapshot_not_ready_yet_has_no_result_nor_completion():
    vs = {"metadata": {"name": "v"}, "status": {"boundVolumeSnapshotContentName": "c", "readyToUse": False}}
    taken = SnapshotResult("shop", "x", vs, {"spec": {"driver": "d"}}, None, "d", "h", None, 0.0, 1.0)
    info = csi_volume_info(taken)
    assert "result" not in info and "completionTimestamp" not in info and "startTimestamp" not in info
    assert info["csiSnapshotInfo"]["ReadyToUse"] is False and info["csiSnapshotInfo"]["size"] == 0


@pytest.mark.parametrize(
    "quantity, value",
    [
        ("10Gi", 10 * 2**30),
        ("1G", 10**9),
        ("1500m", 2),
        ("512", 512),
        (1024, 1024),
        ("1.5Ki", 1536),
        (None, 0),
        ("x", 0),
    ],
)
def test_quantities_read_as_whole_units_rounded_up(quantity, value):
    assert quantity_value(quantity) == value
