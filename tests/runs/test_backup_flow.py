"""A backup from the CLI through real RQ workers to a Velero backup in the storage folder."""

import gzip
import json
import tarfile
from collections import Counter
from pathlib import Path

import pytest

from backups.engine.velero_format.archive import read_archive_items

pytestmark = pytest.mark.usefixtures("rq_workers")


def storage_dir(stack_env) -> Path:
    return Path(stack_env["VELOWEB_DATA_DIR"]) / "storage"


def snapshots_by_claim(objects):
    """(namespace, claim) -> name of the VolumeSnapshot the backup took of it."""
    return {
        (o["metadata"]["namespace"], o["spec"]["source"]["persistentVolumeClaimName"]): o["metadata"]["name"]
        for o in objects.values()
        if o["kind"] == "VolumeSnapshot"
    }


def claim_as_written(claim, volume_snapshot, backup):
    """A bound claim loses the traces of the restore it came from (shop/web-uploads has them) and
    names the VolumeSnapshot taken of it, which is how `velero restore` finds the snapshot."""
    claim = json.loads(json.dumps(claim))
    meta, spec = claim["metadata"], claim["spec"]
    if claim["status"].get("phase") == "Bound":
        for field in ("dataSource", "dataSourceRef", "selector"):
            spec.pop(field, None)
        for label in ("velero.io/restore-name", "velero.io/backup-name", "velero.io/volume-snapshot-name"):
            meta.get("labels", {}).pop(label, None)
    if volume_snapshot:
        meta.setdefault("annotations", {})["velero.io/volume-snapshot-name"] = volume_snapshot
        meta["labels"].update(
            {"velero.io/volume-snapshot-name": volume_snapshot, "velero.io/backup-name": backup}
        )
    return claim


def test_a_backup_of_the_sample_cluster_completes_and_matches_the_cluster(
    manage, registered, cluster, stack_env
):
    result = manage(
        "backup",
        "create",
        "full-1",
        "--cluster",
        registered,
        "--workers",
        "4",
        "--wait",
        "--timeout",
        "120",
        check=False,
    )
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    folder = storage_dir(stack_env) / "backups" / "full-1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "full-1-logs.gz",
        "full-1-resource-list.json.gz",
        "full-1-results.gz",
        "full-1-veloweb-index.tsv.gz",
        "full-1-volumeinfo.json.gz",
        "full-1.tar.gz",
        "velero-backup.json",
    ]
    with tarfile.open(folder / "full-1.tar.gz", "r:gz") as tar:
        assert tar.getnames()[0] == "metadata/version"
    items = dict(read_archive_items(str(folder / "full-1.tar.gz"), each_object_once=True))
    snapshots = snapshots_by_claim(items)
    assert ("shop", "web-uploads") in snapshots
    # every object written is the cluster's object; claims as Velero's PVC actions write them
    for entry, obj in items.items():
        parts = entry.split("/")
        group_resource, name = parts[1], parts[-1][: -len(".json")]
        namespace = parts[3] if parts[2] == "namespaces" else ""
        expected = cluster.get(group_resource, namespace or None, name)
        if obj["kind"] == "PersistentVolumeClaim":
            expected = claim_as_written(expected, snapshots.get((namespace, name)), "full-1")
        assert expected == obj or obj["kind"] in ("Namespace",), entry
    metadata = json.loads((folder / "velero-backup.json").read_text())
    assert metadata["status"]["progress"]["itemsBackedUp"] == len(items)
    # each block row separates its own items (the plan's count) from the snapshot objects it added
    rows = json.loads(
        manage(
            "shell", "-c",
            "import json; from backups.models import BlockRun; print(json.dumps([(b.item_count, "
            "b.items_written, b.snapshot_objects) for b in BlockRun.objects.filter(backup__name='full-1')]))",
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    assert all(written - extra == planned for planned, written, extra in rows)
    snapshot_objects = [o for o in items.values() if o["kind"] in ("VolumeSnapshot", "VolumeSnapshotContent")]
    assert sum(extra for *_, extra in rows) == len(snapshot_objects) == 2 * len(snapshots)
    resource_list = json.loads(gzip.decompress((folder / "full-1-resource-list.json.gz").read_bytes()))
    assert sum(len(v) for v in resource_list.values()) == len(items)
    # one volume info entry per snapshot in the tarball, naming its claim, content and handle
    infos = json.loads(gzip.decompress((folder / "full-1-volumeinfo.json.gz").read_bytes()))
    contents = {o["metadata"]["name"]: o for o in items.values() if o["kind"] == "VolumeSnapshotContent"}
    assert sorted((i["pvcNamespace"], i["pvcName"]) for i in infos) == sorted(snapshots)
    for info in infos:
        content = contents[info["csiSnapshotInfo"]["vscName"]]
        assert info["backupMethod"] == "CSISnapshot" and info["result"] == "succeeded"
        assert info["csiSnapshotInfo"]["snapshotHandle"] == content["status"]["snapshotHandle"]
        assert (
            info["pvName"]
            == cluster.get("persistentvolumeclaims", info["pvcNamespace"], info["pvcName"])["spec"][
                "volumeName"
            ]
        )


def test_a_scheduled_namespace_backup_adds_the_crds_of_its_custom_resources(
    manage, registered, cluster, stack_env
):
    """Velero's end-of-backup step: shop holds widgets, so their CRD joins the backup, counted; the
    dry run (`preview_blocks`) told beforehand how many items of each type it would write."""
    planned = json.loads(
        manage("preview_blocks", "--kubeconfig", cluster.kubeconfig, "--include-namespaces", "shop").stdout
    )["dry_run"]
    create = (
        "from backups.services import backups as backup_services; from backups.runs.steps import wait_for;"
        "from backups.models import Cluster;"
        "from backups.runs.watchdog import tick;"
        f"b = backup_services.create_backup('shop-1', Cluster.objects.get(name='{registered}'),"
        " included_namespaces=['shop'], schedule_name='nightly', workers=2);"
        "print('Phase:', wait_for(b.pk, 120, tick=tick).phase)"
    )
    result = manage("shell", "-c", create, check=False)
    assert "Phase: Completed" in result.stdout, result.stdout + result.stderr
    folder = storage_dir(stack_env) / "backups" / "shop-1"
    with tarfile.open(folder / "shop-1.tar.gz", "r:gz") as tar:
        names = tar.getnames()
    crd = "resources/customresourcedefinitions.apiextensions.k8s.io"
    assert names[-2:] == [
        f"{crd}/v1-preferredversion/cluster/widgets.example.com.json",
        f"{crd}/cluster/widgets.example.com.json",
    ]
    items = dict(read_archive_items(str(folder / "shop-1.tar.gz"), each_object_once=True))
    assert items[f"{crd}/cluster/widgets.example.com.json"] == cluster.get(
        "customresourcedefinitions.apiextensions.k8s.io", None, "widgets.example.com"
    )
    assert sum(1 for entry in items if entry.startswith(crd)) == 1
    metadata = json.loads((folder / "velero-backup.json").read_text())
    assert metadata["status"]["progress"]["itemsBackedUp"] == len(items) == planned["total"]
    written = Counter(entry.split("/")[1] for entry in items)
    expected = Counter(dict(planned["types"])) + Counter(planned["added_types"])
    expected["customresourcedefinitions.apiextensions.k8s.io"] += len(planned["crds"])
    expected["volumesnapshotclasses.snapshot.storage.k8s.io"] += len(planned["snapshot_classes"])
    assert written == expected
    assert metadata["metadata"]["labels"] == {
        "velero.io/storage-location": metadata["spec"]["storageLocation"],
        "velero.io/schedule-name": "nightly",
    }
    resource_list = json.loads(gzip.decompress((folder / "shop-1-resource-list.json.gz").read_bytes()))
    assert resource_list["apiextensions.k8s.io/v1/CustomResourceDefinition"] == ["widgets.example.com"]
    assert sum(len(v) for v in resource_list.values()) == len(items)
    describe = manage("backup", "describe", "shop-1").stdout
    assert f"Items:        {len(items)} of {len(items)}" in describe


def test_a_crd_that_cannot_be_read_at_the_end_is_an_error_and_the_rest_is_kept(
    manage, registered, cluster, stack_env
):
    cluster.fail(500, resource="customresourcedefinitions", verb="get")
    try:
        result = manage(
            "backup", "create", "shop-2", "--cluster", registered, "--include-namespaces", "shop", "--wait",
            check=False,
        )  # fmt: skip
    finally:
        cluster.clear_faults()
    assert "Phase:        PartiallyFailed" in result.stdout, result.stdout + result.stderr
    folder = storage_dir(stack_env) / "backups" / "shop-2"
    items = dict(read_archive_items(str(folder / "shop-2.tar.gz"), each_object_once=True))
    assert not any("customresourcedefinitions" in entry for entry in items)
    assert any(obj["kind"] == "Widget" for obj in items.values())
    # Velero reads a CRD for every grouped type backed up; each failed read is one error line
    results = json.loads(gzip.decompress((folder / "shop-2-results.gz").read_bytes()))
    errors = results["errors"]["cluster"]
    assert errors and all(
        e.startswith("resource: /customresourcedefinitions.apiextensions.k8s.io") for e in errors
    )
    assert any("error getting CRD widgets.example.com" in e for e in errors)
    metadata = json.loads((folder / "velero-backup.json").read_text())
    assert metadata["status"]["errors"] == len(errors)
    assert metadata["status"]["progress"]["itemsBackedUp"] == len(items)


def test_an_unusable_storage_location_is_found_before_any_hook_runs(manage, registered, cluster, tmp_path):
    """The location is checked when the backup starts, as Velero validates its BSL: a database is
    never frozen for a backup that could not be stored."""
    folder = tmp_path / "gone"
    folder.mkdir()
    code = "from backups.models import StorageLocation as L; L.objects.create(name='gone', path={!r})"
    manage("shell", "-c", code.format(str(folder)))
    folder.rmdir()  # an unmounted share, say
    cluster.exec_log.clear()
    result = manage(
        "backup", "create", "unstorable-1", "--cluster", registered, "--storage-location", "gone",
        "--include-namespaces", "shop", "--wait", "--timeout", "60", check=False,
    )  # fmt: skip
    assert "Phase:        FailedValidation" in result.stdout, result.stdout + result.stderr
    assert "storage location gone is unavailable" in result.stdout
    assert "directory does not exist" in result.stdout
    assert cluster.exec_log == []  # the shop database's freeze hooks never ran
