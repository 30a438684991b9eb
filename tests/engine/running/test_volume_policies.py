"""Volume policies where Veloweb takes CSI snapshots: against the emulator's simulated snapshot
controller, over real HTTP. A skipped volume gets no VolumeSnapshot and an entry in the volume
info file as Velero writes skipped volumes."""

import pytest

from backups.engine.log import BackupLog
from backups.engine.planning.resource_policies import parse_resource_policies
from backups.engine.running.csi_snapshots import SKIPPED_REASONS, snapshot_claim
from backups.engine.velero_format.volume_info import skipped_summary, volume_info
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator

VS = "volumesnapshots.snapshot.storage.k8s.io"


def policy(conditions: str, action: str):
    return parse_resource_policies(
        f"version: v1\nvolumePolicies:\n- conditions: {{{conditions}}}\n  action:\n    type: {action}\n"
    )


@pytest.fixture(scope="module")
def emu():
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        yield emulator


@pytest.fixture
def source(emu, tmp_path):
    src = connect(kubeconfig=emu.write_kubeconfig(str(tmp_path / "kc")), request_timeout=5.0)
    yield src
    src.close()


def snapshot(emu, source, log, claim="data-db-0", **kwargs):
    pvc = emu.get("persistentvolumeclaims", "shop", claim)
    return snapshot_claim(
        pvc, source=source, table=source.resources(), backup_name="b", log=log, timeout=5, poll=0.02, **kwargs
    )


def snapshots_of(emu, claim):
    return [
        o
        for o in emu.objects()
        if o["kind"] == "VolumeSnapshot" and o["spec"]["source"]["persistentVolumeClaimName"] == claim
    ]


def test_a_skip_policy_leaves_the_volume_without_a_snapshot_and_says_why(emu, source):
    log = BackupLog()
    taken = snapshot(emu, source, log, policies=policy("pvcLabels: {app.kubernetes.io/instance: db}", "skip"))
    assert taken is not None and not taken.ok and not taken.attempted
    assert taken.skipped == (
        "any: skipped due to resource policy ;"
        "volumeSnapshot: not satisfy the criteria for VolumePolicy or the legacy snapshot way;"
    )
    assert snapshots_of(emu, "data-db-0") == []
    assert [(e.level, e.message) for e in log.entries] == [
        ("info", "volume policy 'skip' for PersistentVolume pvc-db-0: no CSI snapshot")
    ]
    # Velero's BackupVolumeInfo of a skipped volume, in Go's field order
    info = volume_info(taken)
    assert list(info) == [
        "pvcName",
        "pvcNamespace",
        "pvName",
        "snapshotDataMoved",
        "preserveLocalSnapshot",
        "skipped",
        "skippedReason",
        "pvInfo",
    ]
    assert info["pvName"] == "pvc-db-0" and (info["pvcNamespace"], info["pvcName"]) == ("shop", "data-db-0")
    assert info["skipped"] is True and info["skippedReason"] == taken.skipped
    assert info["pvInfo"] == {"reclaimPolicy": "Delete", "labels": None}
    assert skipped_summary([info]) == [
        {
            "name": "pvc-db-0",
            "reasons": [
                {"approach": "any", "reason": "skipped due to resource policy "},
                {
                    "approach": "volumeSnapshot",
                    "reason": "not satisfy the criteria for VolumePolicy or the legacy snapshot way",
                },
            ],
        }
    ]


def test_fs_backup_and_custom_actions_are_skipped_volumes_naming_what_veloweb_lacks(emu, source):
    for action in ("fs-backup", "custom"):
        taken = snapshot(
            emu, source, BackupLog(), policies=policy("csi: {driver: hostpath.csi.k8s.io}", action)
        )
        assert taken.skipped == SKIPPED_REASONS[action] and not snapshots_of(emu, "data-db-0")
    assert "Veloweb has no file-system backup" in SKIPPED_REASONS["fs-backup"]


def test_a_snapshot_policy_takes_one_even_when_snapshot_volumes_is_false(emu, source):
    taken = snapshot(
        emu,
        source,
        BackupLog(),
        claim="data-db-1",
        snapshot_volumes=False,
        policies=policy("capacity: '10Gi,50Gi', storageClass: [csi-hostpath-sc]", "snapshot"),
    )
    assert taken.ok and taken.attempted and volume_info(taken)["backupMethod"] == "CSISnapshot"
    assert len(snapshots_of(emu, "data-db-1")) == 1


def test_a_volume_no_policy_matches_follows_snapshot_volumes(emu, source):
    other = policy("storageClass: [gold]", "skip")
    log = BackupLog()
    assert snapshot(emu, source, log, claim="data-db-2", snapshot_volumes=False, policies=other) is None
    assert not snapshots_of(emu, "data-db-2")
    assert log.entries[-1].message == "snapshotVolumes is false and no volume policy matches: no CSI snapshot"
    taken = snapshot(emu, source, BackupLog(), claim="data-db-2", policies=other)
    assert taken.ok and len(snapshots_of(emu, "data-db-2")) == 1
