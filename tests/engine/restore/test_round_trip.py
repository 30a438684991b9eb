"""The round trip: the sample cluster backed up (CSI snapshots on), restored into a second, empty
emulator; every object equal to the original apart from the fields Velero's restore changes, each
listed below with its reason. Then the same with a namespace mapping into the first cluster."""

import copy

import pytest

from .conftest import key_of

ANY = "*"

# (kind or ANY, path) -> why the restored object differs there. A path is a tuple of keys;
# ANY in a path matches every item of a list.
CHANGED = {
    (ANY, ("metadata", "uid")): "assigned by the API server on create",
    (ANY, ("metadata", "resourceVersion")): "assigned by the API server on create",
    (ANY, ("metadata", "creationTimestamp")): "assigned by the API server on create",
    (ANY, ("metadata", "generation")): "Velero's resetMetadata drops it; the server starts again",
    (ANY, ("metadata", "ownerReferences")): "Velero's resetMetadata drops them (owners get new uids)",
    (ANY, ("status",)): "dropped by Velero (no status restore asked for); the target's controllers "
    "(the emulator's kubelet and provisioner) write their own",
    (ANY, ("metadata", "labels", "velero.io/backup-name")): "added by the restore",
    (ANY, ("metadata", "labels", "velero.io/restore-name")): "added by the restore",
    ("Pod", ("spec", "nodeName")): "PodAction: the scheduler places the pod again",
    ("Pod", ("spec", "priority")): "PodAction: set again from priorityClassName by admission",
    ("Service", ("spec", "clusterIP")): "ServiceAction: the target allocates its own",
    ("Service", ("spec", "clusterIPs")): "ServiceAction: the target allocates its own",
    ("Service", ("spec", "ports", ANY, "nodePort")): "ServiceAction: not set explicitly, reallocated",
    ("PersistentVolumeClaim", ("spec", "volumeName")): "re-provisioned from its VolumeSnapshot: a new volume",
    (
        "PersistentVolumeClaim",
        ("spec", "dataSource"),
    ): "points at the restored VolumeSnapshot (CSI PVC action)",
    ("PersistentVolumeClaim", ("spec", "dataSourceRef")): "dropped by the backup's PVC action",
    ("PersistentVolumeClaim", ("spec", "selector")): "dropped by the backup's PVC action (bound claim)",
    ("PersistentVolumeClaim", ("metadata", "annotations")): "PVCAction removes the binding and provisioner "
    "annotations (the only ones the sample claims have)",
    ("PersistentVolumeClaim", ("metadata", "labels", "velero.io/volume-snapshot-name")): "added by the "
    "backup's CSI action; the restore keeps labels as Velero does",
}

# kinds of backed-up objects the restore does not create under their own name, and why
NOT_RESTORED = {
    "Node": "non-restorable (Velero's nonRestorableResources)",
    "PersistentVolume": "re-provisioned from its CSI snapshot (restoreItem: a new volume for the claim)",
    "VolumeSnapshot": "restored under sha256(<restore>/<name>) (checked in test_claims_come_back...)",
    "VolumeSnapshotContent": "restored under sha256(<restore>/<snapshot>)",
}
COMPLETED = "completed pods and jobs are not restored (isCompleted)"


def _drop(obj, path):
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == ANY:
        for item in obj if isinstance(obj, list) else []:
            _drop(item, rest)
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    if rest:
        _drop(obj[head], rest)
    else:
        del obj[head]


def comparable(obj):
    out = copy.deepcopy(obj)
    for (kind, path), _why in CHANGED.items():
        if kind in (ANY, obj["kind"]):
            _drop(out, path)
    for key in ("labels", "annotations"):
        if out["metadata"].get(key) == {}:
            del out["metadata"][key]
    return out


def _restored(target_emu, group, kind, namespace, name):
    for obj in target_emu.objects():
        if key_of(obj) == (group, kind, namespace, name):
            return obj
    return None


def test_round_trip_into_an_empty_cluster(sample_backup, target_emu, target, restore):
    result = restore(target, "round-trip")
    assert result.phase == "Completed", result.results.results_json()
    assert result.results.warning_count == 0

    compared = 0
    for item in result.plan.items():
        original = sample_backup.originals.get((item.group, item.kind, item.source_namespace, item.name))
        if item.resource == "namespaces":
            original = sample_backup.originals[("", "Namespace", "", item.name)]
        if item.action == "excluded":
            reason = NOT_RESTORED.get(item.kind) or (COMPLETED if "completed" in item.reason else None)
            assert reason, f"{item} was not restored ({item.reason}) and the test does not say why"
            continue
        if item.kind in NOT_RESTORED:
            continue
        assert original is not None, item
        restored = _restored(target_emu, item.group, item.kind, item.namespace, item.name)
        assert restored is not None, f"{item} is missing in the target"
        assert comparable(restored) == comparable(original), item
        compared += 1
    assert compared >= 60  # every kind of the sample cluster took part

    for obj in target_emu.objects():
        labels = obj["metadata"].get("labels") or {}
        if obj["kind"] not in ("Namespace", "PersistentVolume"):
            assert labels.get("velero.io/restore-name") == "round-trip", key_of(obj)


def test_claims_come_back_from_their_volume_snapshots(sample_backup, target_emu, target, restore):
    result = restore(target, "claims")
    assert result.phase == "Completed"
    handles = {
        (i["pvcNamespace"], i["pvcName"]): i["csiSnapshotInfo"]["snapshotHandle"]
        for i in sample_backup.volume_infos
    }
    assert len(handles) == 4  # shop's three database claims and web-uploads
    import time

    deadline = time.time() + 10
    while time.time() < deadline:
        claims = [target_emu.get("persistentvolumeclaims", ns, name) for ns, name in handles]
        if all((c.get("status") or {}).get("phase") == "Bound" for c in claims):
            break
        time.sleep(0.1)
    for (namespace, name), handle in handles.items():
        claim = target_emu.get("persistentvolumeclaims", namespace, name)
        source = claim["spec"]["dataSource"]
        assert source["kind"] == "VolumeSnapshot" and source["apiGroup"] == "snapshot.storage.k8s.io"
        vs = target_emu.get("volumesnapshots.snapshot.storage.k8s.io", namespace, source["name"])
        assert vs["status"]["readyToUse"] is True
        assert vs["spec"]["source"] == {
            "volumeSnapshotContentName": vs["status"]["boundVolumeSnapshotContentName"]
        }
        vsc = target_emu.get("volumesnapshotcontents.snapshot.storage.k8s.io", None, source["name"])
        assert vsc["spec"]["deletionPolicy"] == "Retain"
        assert vsc["spec"]["source"] == {"snapshotHandle": handle}
        assert vsc["spec"]["volumeSnapshotRef"]["name"] == vs["metadata"]["name"]
        assert vsc["spec"]["volumeSnapshotRef"]["namespace"] == namespace
        assert claim["status"]["phase"] == "Bound"
        pv = target_emu.get("persistentvolumes", None, claim["spec"]["volumeName"])
        assert pv["metadata"]["annotations"]["emulator.veloweb.io/restored-from-snapshot-handle"] == handle


def test_round_trip_with_a_namespace_mapping_into_the_first_cluster(
    sample_backup, source_emu, tmp_path, restore
):
    from backups.kube import connect

    client = connect(kubeconfig=source_emu.write_kubeconfig(str(tmp_path / "kc")))
    try:
        result = restore(
            client, "mapped", included_namespaces=("shop",), namespace_mapping={"shop": "shop-copy"}
        )
    finally:
        client.close()
    assert result.phase == "Completed", result.results.results_json()
    assert result.results.warning_count == 0
    namespace = source_emu.get("namespaces", None, "shop-copy")
    assert namespace is not None
    originals = {k: o for k, o in sample_backup.originals.items() if k[2] == "shop"}
    compared = 0
    for (group, kind, _ns, name), original in originals.items():
        item = next(
            (
                i
                for i in result.plan.items()
                if (i.group, i.kind, i.source_namespace, i.name) == (group, kind, "shop", name)
            ),
            None,
        )
        if item is None or item.action == "excluded" or kind in NOT_RESTORED:
            continue
        assert item.namespace == "shop-copy"
        copy_ = _restored(source_emu, group, kind, "shop-copy", name)
        assert copy_ is not None, (kind, name)
        expected = comparable(original)
        expected["metadata"]["namespace"] = "shop-copy"
        assert comparable(copy_) == expected, (kind, name)
        compared += 1
    assert compared >= 20
    # cluster-scoped objects stay out (only one namespace included, include-cluster-resources unset)
    assert all(
        i.action == "excluded"
        for i in result.plan.items()
        if not i.namespace and i.resource != "namespaces" and i.resource != "volumesnapshotcontents"
    )
    # the shop namespace itself is left alone
    assert all(
        (o["metadata"].get("labels") or {}).get("velero.io/restore-name") != "mapped"
        for o in source_emu.objects()
        if o["metadata"].get("namespace") == "shop"
    )


@pytest.mark.parametrize("workers", [1, 8])
def test_workers_do_not_change_the_outcome(target_emu, target, restore, workers):
    result = restore(target, f"w{workers}", workers=workers)
    assert result.phase == "Completed"
    assert result.results.counts() == {"created": 78}
