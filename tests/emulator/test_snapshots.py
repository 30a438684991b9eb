"""The emulator's simulated CSI snapshot controller."""

import json
import time
import urllib.request

import pytest

from emulator.snapshots import DEFAULT_DELAY, quantity_bytes

VS = "volumesnapshots.snapshot.storage.k8s.io"
VSC = "volumesnapshotcontents.snapshot.storage.k8s.io"


@pytest.fixture
def snap_emu(emu):
    """The shared sample emulator; snapshot objects created by a test are removed afterwards."""
    before = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in emu.objects()}
    emu.set_snapshot_behaviour()  # bind at once (the initial behaviour waits DEFAULT_DELAY)
    yield emu
    emu.clear_faults()
    for o in emu.objects():
        key = (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        if key not in before and o["kind"] in ("VolumeSnapshot", "VolumeSnapshotContent"):
            emu.delete(VS if o["kind"] == "VolumeSnapshot" else VSC, key[1], key[2])


def _http(emu, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(emu.url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _create_vs(emu, claim="data-db-0", ns="shop", cls="csi-hostpath-snapclass", generate=True):
    meta = {"generateName": f"velero-{claim}-"} if generate else {"name": f"vs-{claim}"}
    spec = {"source": {"persistentVolumeClaimName": claim}}
    if cls:
        spec["volumeSnapshotClassName"] = cls
    status, obj = _http(
        emu,
        "POST",
        f"/apis/snapshot.storage.k8s.io/v1/namespaces/{ns}/volumesnapshots",
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshot",
            "metadata": meta,
            "spec": spec,
        },
    )
    assert status == 201, obj
    return obj


def _wait_status(emu, ns, name, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vs = emu.get(VS, ns, name)
        if vs and vs.get("status"):
            return vs
        time.sleep(0.01)
    return emu.get(VS, ns, name)


def test_quantity_bytes():
    assert quantity_bytes("20Gi") == 20 * 1024**3
    assert quantity_bytes("1G") == 10**9
    assert quantity_bytes("512") == 512
    assert quantity_bytes("lots") is None
    assert quantity_bytes(None) is None


def test_snapshot_of_a_bound_csi_claim_is_bound_to_new_content(snap_emu):
    vs = _create_vs(snap_emu)
    name = vs["metadata"]["name"]
    assert name.startswith("velero-data-db-0-") and len(name) == len("velero-data-db-0-") + 5
    vs = _wait_status(snap_emu, "shop", name)
    status = vs["status"]
    assert status["readyToUse"] is True
    assert status["creationTime"].endswith("Z")
    assert status["restoreSize"] == "20Gi"
    content = snap_emu.get(VSC, None, status["boundVolumeSnapshotContentName"])
    assert content["metadata"]["name"] == f"snapcontent-{vs['metadata']['uid']}"
    assert "namespace" not in content["metadata"]
    spec = content["spec"]
    assert spec["driver"] == "hostpath.csi.k8s.io"
    assert spec["source"] == {"volumeHandle": "175d5d88-f408-4033-a1c0-844354649d22"}
    assert spec["deletionPolicy"] == "Delete"
    assert spec["volumeSnapshotClassName"] == "csi-hostpath-snapclass"
    ref = spec["volumeSnapshotRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == ("shop", name, vs["metadata"]["uid"])
    assert content["status"]["snapshotHandle"].startswith("snap-")
    assert content["status"]["readyToUse"] is True
    assert content["status"]["restoreSize"] == 20 * 1024**3
    assert set(content) == {"apiVersion", "kind", "metadata", "spec", "status"}


def test_deleting_the_snapshot_deletes_its_content(snap_emu):
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu)["metadata"]["name"])
    content = vs["status"]["boundVolumeSnapshotContentName"]
    path = f"/apis/snapshot.storage.k8s.io/v1/namespaces/shop/volumesnapshots/{vs['metadata']['name']}"
    assert _http(snap_emu, "DELETE", path)[0] == 200
    assert snap_emu.get(VSC, None, content) is None


def test_the_initial_behaviour_binds_after_a_short_delay(snap_emu):
    snap_emu.clear_faults()
    assert snap_emu.snapshots.settings() == {"delay": DEFAULT_DELAY, "fail": False, "never_ready": False}
    name = _create_vs(snap_emu)["metadata"]["name"]
    assert "status" not in snap_emu.get(VS, "shop", name)
    assert _wait_status(snap_emu, "shop", name)["status"]["readyToUse"] is True


def test_content_is_listed_and_readable_over_http(snap_emu):
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu)["metadata"]["name"])
    content = vs["status"]["boundVolumeSnapshotContentName"]
    status, body = _http(
        snap_emu, "GET", f"/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/{content}"
    )
    assert status == 200 and body["kind"] == "VolumeSnapshotContent"
    status, body = _http(
        snap_emu,
        "GET",
        f"/apis/snapshot.storage.k8s.io/v1/namespaces/shop/volumesnapshots/{vs['metadata']['name']}",
    )
    assert status == 200 and body["status"]["boundVolumeSnapshotContentName"] == content


def test_default_class_is_used_without_a_class_name(snap_emu):
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu, cls=None)["metadata"]["name"])
    assert vs["status"]["readyToUse"] is True


def test_fail_sets_an_error(snap_emu):
    snap_emu.set_snapshot_behaviour(fail=True)
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu)["metadata"]["name"])
    assert vs["status"]["readyToUse"] is False
    assert "failure" in vs["status"]["error"]["message"]
    assert "boundVolumeSnapshotContentName" not in vs["status"]


def test_never_ready_leaves_no_status(snap_emu):
    snap_emu.set_snapshot_behaviour(never_ready=True)
    name = _create_vs(snap_emu)["metadata"]["name"]
    time.sleep(0.2)
    assert "status" not in snap_emu.get(VS, "shop", name)


def test_delay(snap_emu):
    snap_emu.set_snapshot_behaviour(delay=0.4)
    name = _create_vs(snap_emu)["metadata"]["name"]
    time.sleep(0.1)
    assert "status" not in snap_emu.get(VS, "shop", name)
    assert _wait_status(snap_emu, "shop", name)["status"]["readyToUse"] is True


def test_missing_claim_and_unknown_class_are_errors(snap_emu):
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu, claim="nope")["metadata"]["name"])
    assert "nope" in vs["status"]["error"]["message"]
    vs = _wait_status(snap_emu, "shop", _create_vs(snap_emu, cls="missing")["metadata"]["name"])
    assert "missing" in vs["status"]["error"]["message"]


def test_deleted_before_binding_is_ignored(snap_emu):
    snap_emu.set_snapshot_behaviour(delay=0.2)

    def contents():
        return [o for o in snap_emu.objects() if o["kind"] == "VolumeSnapshotContent"]

    before = len(contents())
    name = _create_vs(snap_emu)["metadata"]["name"]
    snap_emu.delete(VS, "shop", name)
    time.sleep(0.4)
    assert snap_emu.get(VS, "shop", name) is None
    assert len(contents()) == before


def test_control_endpoint_and_clear_faults(snap_emu):
    status, body = _http(snap_emu, "POST", "/_emulator/snapshots", {"delay": 1.5, "never_ready": True})
    assert status == 200 and body == {"delay": 1.5, "fail": False, "never_ready": True}
    assert _http(snap_emu, "GET", "/_emulator/snapshots")[1]["never_ready"] is True
    status, body = _http(snap_emu, "POST", "/_emulator/snapshots", {"delay": -1})
    assert status == 400
    snap_emu.clear_faults()
    assert snap_emu.snapshots.settings() == {"delay": DEFAULT_DELAY, "fail": False, "never_ready": False}
