"""The emulator's controllers a restore meets: a kubelet (schedules and starts pods created through
the API), CRDs served only once established, CSI restores (a VolumeSnapshot bound to a
pre-provisioned content, a claim provisioned from it) and dynamic provisioning."""

import time

import pytest

from backups.engine.planning.resources import ResourceInfo
from backups.engine.source import SourceError
from backups.kube import connect
from emulator import KubeEmulator


def wait_for(check, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def emu():
    objects = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}},
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "fast"},
            "provisioner": "hostpath.csi.k8s.io",
            "reclaimPolicy": "Delete",
        },
    ]
    with KubeEmulator(objects=objects) as emulator:
        yield emulator


@pytest.fixture
def api(emu, tmp_path):
    client = connect(kubeconfig=emu.write_kubeconfig(str(tmp_path / "kc")))
    yield client
    client.close()


def create(api, resource, namespace, obj):
    return api.create(api.resources().resolve(resource), namespace, obj)


def status_of(emu, resource, namespace, name):
    return (emu.get(resource, namespace, name) or {}).get("status") or {}


def test_pods_created_through_the_api_are_scheduled_and_started(emu, api):
    spec = {"containers": [{"name": "a", "image": "x"}], "initContainers": [{"name": "i", "image": "x"}]}
    create(api, "pods", "app", {"metadata": {"name": "p"}, "spec": spec})
    wait_for(lambda: status_of(emu, "pods", "app", "p").get("phase") == "Running")
    pod = emu.get("pods", "app", "p")
    assert pod["spec"]["nodeName"] == "emulator-node-1"
    assert pod["status"]["containerStatuses"][0]["ready"] is True
    assert "running" in pod["status"]["containerStatuses"][0]["state"]
    assert pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    emu.controllers.configure(never_ready=True)
    create(api, "pods", "app", {"metadata": {"name": "q"}, "spec": {"containers": [{"name": "a"}]}})
    wait_for(lambda: status_of(emu, "pods", "app", "q"))
    q = emu.get("pods", "app", "q")
    assert q["status"]["phase"] == "Pending" and "nodeName" not in q["spec"]


def test_a_crd_is_served_once_established(emu, api):
    emu.controllers.configure(crd_delay=0.5)
    create(
        api,
        "customresourcedefinitions",
        None,
        {
            "metadata": {"name": "gadgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "kind": "Gadget"},
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        },
    )
    gadgets = ResourceInfo("example.com", "v1", "gadgets", "Gadget", True)
    body = {"metadata": {"name": "g"}}
    with pytest.raises(SourceError) as err:
        api.create(gadgets, "app", body)
    assert err.value.status == 404
    crd = wait_for(
        lambda: status_of(emu, "customresourcedefinitions.apiextensions.k8s.io", None, "gadgets.example.com")
    )
    assert {c["type"]: c["status"] for c in crd["conditions"]} == {
        "NamesAccepted": "True",
        "Established": "True",
    }
    assert api.create(gadgets, "app", body)["kind"] == "Gadget"


def test_a_claim_from_a_restored_snapshot_is_provisioned(emu, api):
    emu.snapshots.configure(delay=0.05)
    group = "snapshot.storage.k8s.io"
    ref = {"name": "vs-1", "namespace": "app"}
    source = {"snapshotHandle": "snap-1"}
    content = {
        "deletionPolicy": "Retain",
        "driver": "hostpath.csi.k8s.io",
        "source": source,
        "volumeSnapshotRef": ref,
    }
    create(api, "volumesnapshotcontents", None, {"metadata": {"name": "vsc-1"}, "spec": content})
    create(
        api,
        "volumesnapshots",
        "app",
        {"metadata": {"name": "vs-1"}, "spec": {"source": {"volumeSnapshotContentName": "vsc-1"}}},
    )
    claim_spec = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "2Gi"}},
        "storageClassName": "fast",
        "dataSource": {"apiGroup": group, "kind": "VolumeSnapshot", "name": "vs-1"},
    }
    create(api, "persistentvolumeclaims", "app", {"metadata": {"name": "data"}, "spec": claim_spec})
    wait_for(lambda: status_of(emu, "persistentvolumeclaims", "app", "data").get("phase") == "Bound")
    claim = emu.get("persistentvolumeclaims", "app", "data")
    vs = emu.get("volumesnapshots.snapshot.storage.k8s.io", "app", "vs-1")
    assert vs["status"]["readyToUse"] is True and vs["status"]["boundVolumeSnapshotContentName"] == "vsc-1"
    pv = emu.get("persistentvolumes", None, claim["spec"]["volumeName"])
    assert pv["metadata"]["annotations"]["emulator.veloweb.io/restored-from-snapshot-handle"] == "snap-1"
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["capacity"] == {"storage": "2Gi"}


def test_a_snapshot_naming_a_missing_content_gets_an_error(emu, api):
    emu.snapshots.configure(delay=0.05)
    spec = {"source": {"volumeSnapshotContentName": "nope"}}
    create(api, "volumesnapshots", "app", {"metadata": {"name": "vs-2"}, "spec": spec})
    vs = wait_for(lambda: status_of(emu, "volumesnapshots.snapshot.storage.k8s.io", "app", "vs-2"))
    assert vs["error"]["message"] == 'VolumeSnapshotContent "nope" not found'


def test_a_plain_claim_is_provisioned_dynamically(emu, api):
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "fast",
    }
    create(api, "persistentvolumeclaims", "app", {"metadata": {"name": "scratch"}, "spec": spec})
    wait_for(lambda: status_of(emu, "persistentvolumeclaims", "app", "scratch").get("phase") == "Bound")
    claim = emu.get("persistentvolumeclaims", "app", "scratch")
    pv = emu.get("persistentvolumes", None, claim["spec"]["volumeName"])
    assert pv["spec"]["csi"]["driver"] == "hostpath.csi.k8s.io"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
