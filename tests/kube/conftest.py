"""Fixtures for backups.kube: a real KubeEmulator per module, a kubeconfig for it, a KubeSource."""

import pytest

from backups.kube import connect

NAMESPACES = ["dev", "shop", "web"]

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        # v1beta1 listed first but v1 is the storage (preferred) version
        "versions": [
            {"name": "v1beta1", "served": True, "storage": False, "subresources": {"status": {}}},
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}},
        ],
    },
}


def _ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _cm(ns, name, labels=None):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"key": f"{ns}/{name}"}}


def _pod(ns, name, containers=("app",)):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "containers": [{"name": c, "image": "busybox"} for c in containers]},
        "status": {"phase": "Running"},
    }


def sample_objects():
    objs = [_ns(n) for n in NAMESPACES]
    # names deliberately added out of order; the server lists in (namespace, name) order
    for ns in reversed(NAMESPACES):
        for i in (3, 0, 4, 1, 2):
            tier = "front" if i % 2 == 0 else "back"
            objs.append(_cm(ns, f"cm-{i}", {"tier": tier, "idx": str(i)}))
    objs.append(_pod("shop", "web-0", ("app", "sidecar")))
    objs.append(_pod("dev", "api-0"))
    objs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"spec": {"containers": []}}},
        }
    )
    objs.append({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-1"}, "spec": {}})
    objs.append(CRD)
    objs.append(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1", "namespace": "shop"}}
    )
    return objs


def start_emulator(objects):
    from emulator import KubeEmulator

    emu = KubeEmulator(objects=objects)
    emu.start()
    return emu


@pytest.fixture(scope="module")
def emu():
    emulator = start_emulator(sample_objects())
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def kubeconfig(emu, tmp_path_factory):
    path = tmp_path_factory.mktemp("kubeconfig") / "config"
    emu.write_kubeconfig(str(path), context="emulator")
    return str(path)


@pytest.fixture(autouse=True)
def _no_faults(request):
    """Faults and latency never leak from one test into the next."""
    yield
    if "emu" in request.fixturenames:
        emulator = request.getfixturevalue("emu")
        emulator.clear_faults()
        emulator.set_latency(0)


@pytest.fixture
def source(kubeconfig):
    src = connect(kubeconfig, context="emulator", page_size=500, request_timeout=5.0)
    yield src
    src.close()


@pytest.fixture
def small_pages(kubeconfig):
    src = connect(kubeconfig, context="emulator", page_size=2, request_timeout=5.0)
    yield src
    src.close()
