"""Which items a restore takes (filters, Velero's own skips) and in which order (priorities, CRDs
established before their custom resources); status restore; resource modifiers."""

import pytest

from .conftest import configmap, make_backup, namespace, pod, restore_from

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}],
    },
}


def widget(ns, name):
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {},
    }


def deployment(ns, name, annotations=None):
    meta = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"spec": {"containers": []}},
        },
        "status": {"replicas": 2, "readyReplicas": 2},
    }


def volume_pair(ns, claim, volume, reclaim="Retain"):
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume, "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": reclaim,
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": claim, "uid": "u-1"},
            "hostPath": {"path": "/data"},
        },
        "status": {"phase": "Bound"},
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": claim,
            "namespace": ns,
            "annotations": {"pv.kubernetes.io/bind-completed": "yes"},
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": volume,
        },
        "status": {"phase": "Bound"},
    }
    return [pv, pvc]


def cluster():
    return [
        namespace("a", {"team": "x"}),
        namespace("b"),
        CRD,
        widget("a", "w1"),
        widget("b", "w2"),
        configmap("a", "cm-a", labels={"tier": "front"}),
        configmap("b", "cm-b", labels={"tier": "back"}),
        configmap("b", "cm-c"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "a"}, "data": {}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "namespace": "a"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.0.0.9",
                "clusterIPs": ["10.0.0.9"],
                "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}],
            },
        },
        deployment("a", "web"),
        deployment("a", "api", annotations={"velero.io/restore-status": "false"}),
        pod("a", "done", status=None) | {"status": {"phase": "Succeeded"}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "reader"},
            "rules": [],
        },
        *volume_pair("a", "data", "pv-a"),
        *volume_pair("b", "other", "pv-b", reclaim="Delete"),
    ]


@pytest.fixture(scope="module")
def backup(tmp_path_factory):
    return make_backup(cluster(), tmp_path_factory.mktemp("filters"))


def actions(result):
    return {(i.resource, i.namespace, i.name): (i.action, i.reason) for i in result.plan.items()}


def test_one_namespace_leaves_cluster_resources_out_but_restores_its_claims_volume(
    backup, tmp_path, target_emu, target
):
    result = restore_from(backup, target, tmp_path, included_namespaces=("a",))
    assert result.phase == "Completed", result.results.results_json()
    # the CRD is cluster-scoped, so left out: its widget cannot be restored (Velero's warning)
    assert result.results.results_json()["warnings"]["namespaces"] == {
        "a": [
            'error getting updated resource client for namespace "a", resource "widgets.example.com": '
            "the target cluster does not serve it"
        ]
    }
    planned = actions(result)
    assert planned[("configmaps", "b", "cm-b")] == ("excluded", "namespace b is not included")
    assert planned[("clusterroles", "", "reader")] == (
        "excluded",
        "cluster-scoped, and only specific namespaces are included",
    )
    # Velero's PVC action restores the bound volume with its claim, cluster-scoped or not
    assert planned[("persistentvolumes", "", "pv-a")][0] == "create"
    pv = target_emu.get("persistentvolumes", None, "pv-a")
    assert "uid" not in pv["spec"]["claimRef"] and "annotations" not in pv["metadata"]
    assert planned[("persistentvolumes", "", "pv-b")][0] == "excluded"
    assert planned[("pods", "a", "done")] == (
        "excluded",
        "completed pod (phase Succeeded): Velero does not restore it",
    )
    assert target_emu.get("namespaces", None, "a")["metadata"]["labels"] == {"team": "x"}
    assert target_emu.get("namespaces", None, "b") is None


def test_include_cluster_resources_false_and_resource_filters(backup, tmp_path, target_emu, target):
    result = restore_from(
        backup, target, tmp_path, include_cluster_resources=False, excluded_resources=("cm", "secrets")
    )
    planned = actions(result)
    assert planned[("configmaps", "a", "cm-a")] == ("excluded", "resource configmaps is excluded")
    assert planned[("secrets", "a", "s")] == ("excluded", "resource secrets is excluded")
    assert planned[("clusterroles", "", "reader")][1] == "cluster-scoped: include-cluster-resources is false"
    assert (
        planned[("persistentvolumes", "", "pv-a")][1] == "cluster-scoped: include-cluster-resources is false"
    )
    # the CRD is cluster-scoped too: without it the widgets cannot be restored (warnings)
    assert result.results.warning_count == 2 and target_emu.get("widgets.example.com", "a", "w1") is None


def test_label_selector_and_or_selectors(backup, tmp_path, target_emu, target):
    result = restore_from(backup, target, tmp_path, label_selector={"matchLabels": {"tier": "front"}})
    restored = {(i.resource, i.name) for i in result.plan.items() if i.action == "create"}
    assert ("configmaps", "cm-a") in restored and ("configmaps", "cm-b") not in restored
    assert actions(result)[("configmaps", "b", "cm-b")][1] == "labels do not match the label selector"
    other = restore_from(
        backup,
        target,
        tmp_path,
        name="r2",
        or_label_selectors=({"matchLabels": {"tier": "front"}}, {"matchLabels": {"tier": "back"}}),
    )
    chosen = {i.name for i in other.plan.items() if i.resource == "configmaps" and i.action == "create"}
    assert chosen == {"cm-a", "cm-b"}


def _rv(emu, resource, ns, name):
    return int(emu.get(resource, ns, name)["metadata"]["resourceVersion"])


def test_priorities_with_low_priority_separator(backup, tmp_path, target_emu, target):
    result = restore_from(
        backup,
        target,
        tmp_path,
        priorities=("services", "-", "configmaps"),
        excluded_resources=("persistentvolumes", "persistentvolumeclaims"),
    )
    names = [t.name for t in result.plan.tiers]
    assert names == ["customresourcedefinitions", "services", "*", "configmaps"]
    service = _rv(target_emu, "services", "a", "svc")
    rest = [_rv(target_emu, "secrets", "a", "s"), _rv(target_emu, "deployments.apps", "a", "web")]
    configmaps = [
        _rv(target_emu, "configmaps", ns, n) for ns, n in (("a", "cm-a"), ("b", "cm-b"), ("b", "cm-c"))
    ]
    assert service < min(rest) and max(rest) < min(configmaps)
    svc = target_emu.get("services", "a", "svc")
    assert "clusterIP" not in svc["spec"] and "nodePort" not in svc["spec"]["ports"][0]


def test_preserve_node_ports(backup, tmp_path, target_emu, target):
    restore_from(backup, target, tmp_path, included_resources=("services",), preserve_node_ports=True)
    assert target_emu.get("services", "a", "svc")["spec"]["ports"][0]["nodePort"] == 30080


def test_custom_resources_wait_for_their_crd_to_be_established(backup, tmp_path, target_emu, target):
    target_emu.controllers.configure(crd_delay=0.8)
    result = restore_from(backup, target, tmp_path)
    assert result.phase == "Completed", result.results.results_json()
    crd = target_emu.get("customresourcedefinitions.apiextensions.k8s.io", None, "widgets.example.com")
    assert [c["type"] for c in crd["status"]["conditions"]] == ["NamesAccepted", "Established"]
    # the widgets were created after the CRD became established (its status write)
    assert _rv(target_emu, "widgets.example.com", "a", "w1") > int(crd["metadata"]["resourceVersion"])
    assert result.tier_seconds[0][0] == "customresourcedefinitions" and result.tier_seconds[0][2] >= 0.7


def test_a_crd_never_established_fails_its_resources(backup, tmp_path, target_emu, target):
    target_emu.controllers.configure(crd_delay=30)
    result = restore_from(
        backup, target, tmp_path, crd_timeout=0.5, included_resources=("crd", "widgets.example.com")
    )
    assert result.phase == "PartiallyFailed"
    doc = result.results.results_json()
    assert doc["errors"]["cluster"] == [
        "the CRD widgets.example.com is not available to use for custom resources"
    ]
    assert set(doc["warnings"]["namespaces"]) == {"a", "b"}  # their widgets: not served


def test_status_is_restored_only_for_included_resources(backup, tmp_path, target_emu, target):
    restore_from(backup, target, tmp_path, restore_status={"included_resources": ["deployments.apps"]})
    assert target_emu.get("deployments.apps", "a", "web")["status"] == {"replicas": 2, "readyReplicas": 2}
    # the object's velero.io/restore-status annotation overrides the spec
    assert "status" not in target_emu.get("deployments.apps", "a", "api")


def test_resource_modifiers(backup, tmp_path, target_emu, target):
    modifiers = """
version: v1
resourceModifierRules:
- conditions:
    groupResource: configmaps
    namespaces: [b]
    resourceNameRegex: "^cm-b$"
  patches:
  - operation: replace
    path: /data/k
    value: "patched"
- conditions:
    groupResource: deployments.apps
    matches:
    - path: /spec/replicas
      value: "2"
  mergePatches:
  - patchData: |
      {"spec": {"replicas": 5}}
- conditions:
    groupResource: "*"
    labelSelector: {matchLabels: {tier: front}}
  strategicPatches:
  - patchData: |
      {"metadata": {"labels": {"patched": "yes"}}}
"""
    result = restore_from(backup, target, tmp_path, resource_modifiers=modifiers)
    assert result.phase == "Completed", result.results.results_json()
    assert target_emu.get("configmaps", "b", "cm-b")["data"] == {"k": "patched"}
    assert target_emu.get("configmaps", "b", "cm-c")["data"] == {"k": "cm-c"}
    assert target_emu.get("deployments.apps", "a", "web")["spec"]["replicas"] == 5
    assert target_emu.get("configmaps", "a", "cm-a")["metadata"]["labels"]["patched"] == "yes"
