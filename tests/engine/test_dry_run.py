"""The dry run: items per type, and a claim's snapshot told as `snapshot_claim` would decide it."""

from backups.engine.dry_run import DryRun, takes_snapshots
from backups.engine.items import ItemKey
from backups.engine.planning.resource_policies import parse_resource_policies

CLASS = {"metadata": {"name": "csi-class"}, "driver": "csi.example.com"}


def claim(name, volume="", labels=None):
    return {
        "metadata": {"name": name, "namespace": "shop", "labels": labels or {}},
        "spec": {"volumeName": volume, "storageClassName": "fast"},
        "status": {"phase": "Bound" if volume else "Pending"},
    }


def volume(name, driver="csi.example.com"):
    spec = {"capacity": {"storage": "1Gi"}, "storageClassName": "fast"}
    if driver:
        spec["csi"] = {"driver": driver, "volumeHandle": name}
    return {"metadata": {"name": name}, "spec": spec}


def key(resource, name, ns="shop"):
    return ItemKey("", "v1", resource, ns if resource != "persistentvolumes" else "", name)


def test_claims_are_snapshotted_as_the_backup_would_and_the_others_say_why():
    run = DryRun(snapshots=True, snapshot_classes=[CLASS])
    elsewhere = {"pv-far": volume("pv-far"), "pv-nfs": volume("pv-nfs", driver="")}
    block = [
        (key("pods", "db-0"), None),
        (key("persistentvolumeclaims", "data"), claim("data", "pv-1")),
        (key("persistentvolumes", "pv-1"), volume("pv-1")),
        (key("persistentvolumeclaims", "far"), claim("far", "pv-far")),  # its volume read apart
        (key("persistentvolumeclaims", "nfs"), claim("nfs", "pv-nfs")),
        (key("persistentvolumeclaims", "pending"), claim("pending")),
        (key("persistentvolumeclaims", "lost"), claim("lost", "pv-gone")),
    ]
    assert run.add_block(block, elsewhere.get) == 4
    assert (run.snapshotted, run.classes) == (2, {"csi-class"})
    assert dict(run.not_snapshotted) == {
        "not a CSI volume": 1,
        "claim not bound to a volume": 1,
        "volume not found": 1,
    }
    counted = run.as_dict(["widgets.example.com"])
    assert counted["types"] == [["persistentvolumeclaims", 5], ["persistentvolumes", 1], ["pods", 1]]
    assert (counted["added"], counted["total"]) == (2 * 2 + 1 + 1, 7 + 6)


def test_snapshot_volumes_false_takes_only_what_a_volume_policy_says_to():
    policies = parse_resource_policies(
        "version: v1\nvolumePolicies:\n"
        "- conditions: {pvcLabels: {tier: cache}}\n  action: {type: skip}\n"
        "- conditions: {storageClass: [fast]}\n  action: {type: snapshot}\n"
    )
    assert (
        takes_snapshots(False, policies) and not takes_snapshots(False, None) and takes_snapshots(None, None)
    )
    run = DryRun(snapshots=True, snapshot_volumes=False, policies=policies, snapshot_classes=[])
    block = [
        (key("persistentvolumeclaims", "db"), claim("db", "pv-1")),
        (key("persistentvolumeclaims", "cache"), claim("cache", "pv-2", labels={"tier": "cache"})),
        (key("persistentvolumes", "pv-1"), volume("pv-1")),
        (key("persistentvolumes", "pv-2"), volume("pv-2")),
    ]
    assert run.add_block(block, lambda name: None) == 0
    assert dict(run.not_snapshotted) == {
        "no VolumeSnapshotClass for driver csi.example.com": 1,
        "volume policy 'skip'": 1,
    }
    run = DryRun(snapshots=True, snapshot_volumes=False, policies=None, snapshot_classes=[CLASS])
    run.add_block(block[:1] + block[2:3], lambda name: None)
    assert dict(run.not_snapshotted) == {"snapshotVolumes is false and no volume policy matches": 1}
