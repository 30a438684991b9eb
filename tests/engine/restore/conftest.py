"""Fixtures for restore tests: a backup of the sample cluster (CSI snapshots on) made once per
module by `run_local_backup`, and empty emulators to restore into, all over real HTTP."""

import gzip
import json
import os

import pytest

from backups.engine.planning.spec import BackupSpec
from backups.engine.restore import RestoreSpec, run_local_restore
from backups.engine.sequential_backup import run_local_backup
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator


class SampleBackup:
    """The backup's files, and the source cluster's objects as they were when it was taken."""

    def __init__(self, result, originals):
        self.result = result
        self.name = result.name
        self.tarball = result.tarball
        self.originals = originals
        with open(os.path.join(result.path, "velero-backup.json")) as f:
            self.backup_json = json.load(f)
        with gzip.open(os.path.join(result.path, f"{result.name}-volumeinfo.json.gz"), "rt") as f:
            self.volume_infos = json.load(f)


@pytest.fixture(scope="module")
def source_emu():
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def sample_backup(source_emu, tmp_path_factory):
    folder = tmp_path_factory.mktemp("backup")
    src = connect(kubeconfig=source_emu.write_kubeconfig(str(folder / "kc")))
    try:
        result = run_local_backup(src, BackupSpec(), "sample", str(folder / "out"), snapshot_volumes=True)
    finally:
        src.close()
    assert result.phase == "Completed", result.log.entries
    originals = {_key(o): json.loads(json.dumps(o)) for o in source_emu.objects()}
    return SampleBackup(result, originals)


def _key(obj):
    api_version = obj["apiVersion"]
    group = api_version.rpartition("/")[0]
    meta = obj["metadata"]
    return (group, obj["kind"], meta.get("namespace") or "", meta["name"])


@pytest.fixture
def target_emu():
    with KubeEmulator() as emulator:
        yield emulator


@pytest.fixture
def target(target_emu, tmp_path):
    client = connect(kubeconfig=target_emu.write_kubeconfig(str(tmp_path / "target-kc")))
    yield client
    client.close()


@pytest.fixture
def restore(sample_backup, tmp_path):
    """restore(target, name, **spec fields) -> LocalRestoreResult, from the sample backup."""
    counter = iter(range(1000))

    def run(target_client, name="r1", **fields):
        fields.setdefault("backup_name", sample_backup.name)
        spec = RestoreSpec(**fields)
        return run_local_restore(
            sample_backup.tarball,
            spec,
            target_client,
            name,
            str(tmp_path / f"work-{next(counter)}"),
            backup=sample_backup.backup_json,
            volume_infos=sample_backup.volume_infos,
            crd_timeout=10,
            hook_wait=10,
        )

    return run


def key_of(obj):
    return _key(obj)


def make_backup(objects, folder, name="custom", **backup_options):
    """Back up a cluster of `objects` (an emulator started for it) into `folder`; returns a
    SampleBackup whose originals are the objects as the cluster held them."""
    with KubeEmulator(objects=objects) as emulator:
        client = connect(kubeconfig=emulator.write_kubeconfig(os.path.join(str(folder), "src-kc")))
        try:
            result = run_local_backup(
                client, BackupSpec(), name, os.path.join(str(folder), "out"), **backup_options
            )
        finally:
            client.close()
        originals = {_key(o): json.loads(json.dumps(o)) for o in emulator.objects()}
    return SampleBackup(result, originals)


def restore_from(backup, target_client, folder, name="r1", crd_timeout=10, **fields):
    fields.setdefault("backup_name", backup.name)
    return run_local_restore(
        backup.tarball,
        RestoreSpec(**fields),
        target_client,
        name,
        os.path.join(str(folder), f"work-{name}"),
        backup=backup.backup_json,
        volume_infos=backup.volume_infos,
        crd_timeout=crd_timeout,
        hook_wait=5,
    )


def namespace(name, labels=None):
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def pod(ns, name, containers=("app",), labels=None, annotations=None, **spec):
    meta = {"name": name, "namespace": ns, "labels": labels or {"app": name}}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": c, "image": "busybox"} for c in containers],
            **spec,
        },
        "status": {"phase": "Running"},
    }


def configmap(ns, name, data=None, labels=None):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {"k": name}}
