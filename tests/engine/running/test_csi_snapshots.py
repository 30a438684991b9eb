"""snapshot_claim against the emulator's simulated CSI snapshot controller, over real HTTP."""

import pytest

from backups.engine.log import BackupLog
from backups.engine.planning.resources import ResourceTable
from backups.engine.running.csi_snapshots import SnapshotResult, choose_class, label_value, snapshot_claim
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator

VS = "volumesnapshots.snapshot.storage.k8s.io"


def _pv(name, csi_driver=None, handle="h-1"):
    spec = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}
    if csi_driver:
        spec["csi"] = {"driver": csi_driver, "volumeHandle": handle}
    else:
        spec["hostPath"] = {"path": f"/data/{name}"}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}


def _pvc(name, volume, ns="shop", phase="Bound"):
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"volumeName": volume, "accessModes": ["ReadWriteOnce"]},
        "status": {"phase": phase, "capacity": {"storage": "1Gi"}},
    }


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    emulator = KubeEmulator.from_manifests([SAMPLE_CLUSTER])
    emulator.add(_pv("pv-hostpath"))
    emulator.add(_pvc("local-data", "pv-hostpath"))
    emulator.add(_pv("pv-other", csi_driver="other.csi.example.com"))
    emulator.add(_pvc("other-data", "pv-other"))
    emulator.start()
    emulator.kubeconfig = emulator.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "config"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def source(emu):
    src = connect(kubeconfig=emu.kubeconfig, request_timeout=5.0)
    yield src
    src.close()
    emu.clear_faults()
    emu.set_snapshot_behaviour()


@pytest.fixture
def table(source):
    return source.resources()


def _claim(emu, name="data-db-0", ns="shop"):
    return emu.get("persistentvolumeclaims", ns, name)


def _snapshots(emu):
    return [o for o in emu.objects() if o["kind"] == "VolumeSnapshot"]


def _run(emu, source, table, log, name="data-db-0", **kwargs):
    kwargs.setdefault("timeout", 5)
    kwargs.setdefault("poll", 0.02)
    return snapshot_claim(
        _claim(emu, name), source=source, table=table, backup_name="nightly", log=log, **kwargs
    )


def test_a_csi_claim_gets_a_snapshot_handle(emu, source, table):
    log = BackupLog()
    result = _run(emu, source, table, log)
    assert isinstance(result, SnapshotResult) and result.ok, log.entries
    assert (result.namespace, result.pvc, result.driver) == ("shop", "data-db-0", "hostpath.csi.k8s.io")
    assert result.handle.startswith("snap-") and result.error is None
    assert result.restore_size == 20 * 1024**3
    assert result.started <= result.finished
    vs = result.volume_snapshot
    assert vs["kind"] == "VolumeSnapshot" and vs["metadata"]["name"].startswith("velero-data-db-0-")
    assert vs["metadata"]["labels"]["velero.io/backup-name"] == "nightly"
    assert vs["spec"] == {
        "volumeSnapshotClassName": "csi-hostpath-snapclass",
        "source": {"persistentVolumeClaimName": "data-db-0"},
    }
    assert (
        vs["status"]["boundVolumeSnapshotContentName"] == result.volume_snapshot_content["metadata"]["name"]
    )
    assert result.volume_snapshot_content["status"]["snapshotHandle"] == result.handle
    assert result.volume_snapshot_content["spec"]["source"]["volumeHandle"]
    assert result.snapshot_class["metadata"]["name"] == "csi-hostpath-snapclass"
    stored = emu.get(VS, "shop", vs["metadata"]["name"])
    claim_labels = _claim(emu)["metadata"]["labels"]
    assert claim_labels and stored["metadata"]["labels"] == {
        **claim_labels,
        "velero.io/backup-name": "nightly",
    }
    assert log.errors == 0


def test_pre_listed_classes_are_used_without_listing(emu, source, table):
    classes = list(source.list(table.resolve("volumesnapshotclasses.snapshot.storage.k8s.io")))
    emu.fail(403, resource="volumesnapshotclasses", verb="list")
    result = _run(emu, source, table, BackupLog(), snapshot_classes=classes)
    assert result.ok


def test_a_delayed_controller_is_polled(emu, source, table):
    emu.set_snapshot_behaviour(delay=0.3)
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        import time

        time.sleep(seconds)

    result = _run(emu, source, table, BackupLog(), sleep=sleep)
    assert result.ok and sleeps and max(sleeps) <= 0.02


def test_failure_is_logged_and_the_snapshot_deleted(emu, source, table):
    emu.set_snapshot_behaviour(fail=True)
    before = len(_snapshots(emu))
    log = BackupLog()
    result = _run(emu, source, table, log)
    assert result is not None and not result.ok and result.handle is None
    assert "simulated CSI snapshot failure" in result.error
    assert log.errors == 1
    entry = [e for e in log.entries if e.level == "error"][0]
    assert (entry.resource, entry.namespace, entry.name) == ("persistentvolumeclaims", "shop", "data-db-0")
    assert "shop/data-db-0" in entry.message
    assert emu.get(VS, "shop", result.volume_snapshot["metadata"]["name"]) is None
    assert len(_snapshots(emu)) == before


def test_timeout_with_a_controller_that_never_binds(emu, source, table):
    emu.set_snapshot_behaviour(never_ready=True)
    now = [0.0]
    log = BackupLog()

    def sleep(seconds):
        now[0] += seconds

    result = _run(emu, source, table, log, timeout=2, poll=0.5, clock=lambda: now[0], sleep=sleep)
    assert result.error == "timed out after 2s waiting for the snapshot handle of PVC shop/data-db-0"
    assert now[0] == pytest.approx(2.0)
    assert log.errors == 1 and "shop/data-db-0" in log.entries[-1].message
    assert emu.get(VS, "shop", result.volume_snapshot["metadata"]["name"]) is None


def test_timeout_in_real_time(emu, source, table):
    emu.set_snapshot_behaviour(never_ready=True)
    result = _run(emu, source, table, BackupLog(), timeout=0.2, poll=0.05)
    assert result.error.startswith("timed out after 0.2s")


def test_a_non_csi_volume_is_skipped(emu, source, table):
    log = BackupLog()
    before = len(_snapshots(emu))
    assert _run(emu, source, table, log, name="local-data") is None
    assert log.errors == 0 and "not a CSI volume" in log.entries[-1].message
    assert log.entries[-1].level == "info"
    assert len(_snapshots(emu)) == before


def test_no_class_for_the_driver_is_skipped(emu, source, table):
    log = BackupLog()
    assert _run(emu, source, table, log, name="other-data") is None
    assert log.entries[-1].level == "info"
    assert "no VolumeSnapshotClass for driver other.csi.example.com" in log.entries[-1].message


def test_an_unbound_claim_is_skipped(emu, source, table):
    log = BackupLog()
    pvc = _pvc("pending", "", phase="Pending")
    assert snapshot_claim(pvc, source=source, table=table, backup_name="b", log=log) is None
    assert log.errors == 0 and log.entries[-1].level == "info"


def test_no_snapshot_crds_is_skipped(emu, source, table):
    plain = ResourceTable([r for r in table if r.group != "snapshot.storage.k8s.io"])
    log = BackupLog()
    assert _run(emu, source, plain, log) is None
    assert log.errors == 0 and "not served" in log.entries[-1].message


def test_a_forbidden_create_is_an_error_naming_the_claim(emu, source, table):
    emu.fail(403, resource="volumesnapshots", verb="create")
    before = len(_snapshots(emu))
    log = BackupLog()
    result = _run(emu, source, table, log)
    assert result.error and "forbidden" in result.error and result.volume_snapshot is None
    assert log.errors == 1
    entry = log.entries[-1]
    assert entry.level == "error" and entry.name == "data-db-0" and "shop/data-db-0" in entry.message
    assert len(_snapshots(emu)) == before


def test_a_forbidden_class_list_is_an_error(emu, source, table):
    emu.fail(403, resource="volumesnapshotclasses", verb="list")
    log = BackupLog()
    result = _run(emu, source, table, log)
    assert result.error and "VolumeSnapshotClasses" in result.error and log.errors == 1


def _cls(name, driver="d", labels=None, annotations=None):
    meta = {"name": name, "labels": labels or {}, "annotations": annotations or {}}
    return {"metadata": meta, "driver": driver}


def test_choose_class_preference():
    only = _cls("only")
    assert choose_class([only, _cls("x", driver="e")], "d") is only
    default = _cls("default", annotations={"snapshot.storage.kubernetes.io/is-default-class": "true"})
    labelled = _cls("velero", labels={"velero.io/csi-volumesnapshot-class": "true"})
    assert choose_class([only, default], "d") is default
    assert choose_class([default, labelled, only], "d") is labelled
    assert choose_class([only, _cls("two")], "d") is None
    assert choose_class([], "d") is None


def test_label_value():
    assert label_value("nightly") == "nightly"
    long = "b" * 70
    assert len(label_value(long)) == 63 and label_value(long) != label_value("b" * 71)
