"""The claim as Velero's PVC item actions write it: restore traces dropped, the snapshot named."""

import copy

from backups.engine.running.item_actions import mark_snapshot, prepare_claim
from tests.engine.objects import pvc


def restored_claim(storage_class="fast", phase="Bound"):
    claim = pvc("shop", "data", volume="pv-1")
    claim["status"]["phase"] = phase
    claim["metadata"]["labels"] = {
        "app": "db",
        "velero.io/volume-group": "db",
        "velero.io/restore-name": "r-1",
        "velero.io/volume-snapshot-name": "velero-data-abc",
        "velero.io/backup-name": "old-backup",
    }
    source = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "velero-data-abc"}
    claim["spec"].update(
        dataSource=dict(source),
        dataSourceRef=dict(source),
        selector={"matchLabels": {"velero.io/dynamic-pv-restore": "x", "tier": "db"}},
    )
    if storage_class is not None:
        claim["spec"]["storageClassName"] = storage_class
    return claim


def test_a_bound_claim_loses_its_data_source_selector_and_stale_velero_labels():
    claim = restored_claim()
    before = copy.deepcopy(claim)

    out = prepare_claim(claim, "nightly")

    assert claim == before  # the object read from the cluster is not touched
    assert "dataSource" not in out["spec"] and "dataSourceRef" not in out["spec"]
    assert "selector" not in out["spec"]
    assert out["spec"]["volumeName"] == "pv-1" and out["spec"]["storageClassName"] == "fast"
    # only the three stale labels go; the volume-group label is the user's and stays
    assert out["metadata"]["labels"] == {"app": "db", "velero.io/volume-group": "db"}


def test_a_claim_without_a_storage_class_field_also_loses_its_selector():
    out = prepare_claim(restored_claim(storage_class=None), "nightly")
    assert "selector" not in out["spec"]


def test_an_empty_storage_class_keeps_the_selector_without_velero_match_labels():
    """storageClassName "" reserves a static PV through the selector: Velero keeps it."""
    out = prepare_claim(restored_claim(storage_class=""), "nightly")
    assert out["spec"]["selector"] == {"matchLabels": {"tier": "db"}}
    assert "dataSource" not in out["spec"]


def test_the_backup_name_label_of_this_very_backup_stays():
    claim = restored_claim()
    claim["metadata"]["labels"]["velero.io/backup-name"] = "nightly"
    assert prepare_claim(claim, "nightly")["metadata"]["labels"]["velero.io/backup-name"] == "nightly"


def test_an_unbound_claim_is_written_as_read():
    claim = restored_claim(phase="Pending")
    assert prepare_claim(claim, "nightly") == restored_claim(phase="Pending")
    claim = restored_claim()
    del claim["spec"]["volumeName"]
    assert "dataSource" in prepare_claim(claim, "nightly")["spec"]


def test_a_snapshotted_claim_names_its_volume_snapshot_for_the_restore():
    claim = prepare_claim(restored_claim(), "nightly")
    out = mark_snapshot(claim, "velero-data-x7k", "nightly")
    assert out["metadata"]["annotations"]["velero.io/volume-snapshot-name"] == "velero-data-x7k"
    assert out["metadata"]["labels"] == {
        "app": "db",
        "velero.io/volume-group": "db",
        "velero.io/volume-snapshot-name": "velero-data-x7k",
        "velero.io/backup-name": "nightly",
    }
    assert "annotations" not in claim["metadata"]
