"""Cohabiting resources and preferred versions, against an API server that serves them: one
resource under two groups (deployments in apps and extensions), a CRD served at two versions, a
group preferring an older version. Velero backs each object up once, from the group it sees first
(extensions last), at its group's preferred version, with the `<version>-preferredversion` copy."""

import gzip
import json
import tarfile

from backups.engine.planning.spec import BackupSpec
from backups.engine.sequential_backup import run_local_backup
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator


def members(tarball):
    with gzip.open(tarball, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        return {m.name: json.load(tar.extractfile(m)) for m in tar if m.name.startswith("resources/")}


def back_up(emulator, tmp_path, name, **spec):
    source = connect(kubeconfig=emulator.write_kubeconfig(str(tmp_path / f"{name}.kc")))
    try:
        result = run_local_backup(source, BackupSpec(**spec), name, str(tmp_path / "out"))
    finally:
        source.close()
    assert result.errors == 0
    return members(result.tarball)


def test_deployments_served_by_apps_and_extensions_are_backed_up_once_from_apps(tmp_path):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        emulator.serve("extensions", "v1beta1", "deployments", "Deployment", True, same_as="deployments.apps")
        full = back_up(emulator, tmp_path, "full", included_namespaces=["shop"])
        assert "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json" in full
        assert not [n for n in full if n.startswith("resources/deployments.extensions/")]
        # asked for by its extensions name, the same object comes as extensions/v1beta1
        old = back_up(
            emulator,
            tmp_path,
            "old",
            included_namespaces=["shop"],
            included_resources=["deployments.extensions"],
        )
        assert sorted(old) == [
            "resources/deployments.extensions/namespaces/shop/web.json",
            "resources/deployments.extensions/v1beta1-preferredversion/namespaces/shop/web.json",
        ]
        body = old["resources/deployments.extensions/namespaces/shop/web.json"]
        assert body["apiVersion"] == "extensions/v1beta1"
        assert body["metadata"]["uid"] == emulator.get("deployments.apps", "shop", "web")["metadata"]["uid"]


def test_a_custom_resource_served_at_two_versions_is_backed_up_once_at_the_preferred_one(tmp_path):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.org"},
        "spec": {
            "group": "example.org",
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": True},
                {"name": "v1", "served": True, "storage": False},
            ],
        },
    }
    gizmo = {
        "apiVersion": "example.org/v1beta1",
        "kind": "Gizmo",
        "metadata": {"name": "g", "namespace": "a"},
    }
    with KubeEmulator(objects=[crd, gizmo]) as emulator:
        backed_up = back_up(emulator, tmp_path, "gizmos", included_namespaces=["a"])
    assert sorted(n for n in backed_up if "gizmos" in n) == [
        "resources/customresourcedefinitions.apiextensions.k8s.io/cluster/gizmos.example.org.json",
        "resources/customresourcedefinitions.apiextensions.k8s.io/v1-preferredversion/cluster/gizmos.example.org.json",  # noqa: E501
        "resources/gizmos.example.org/namespaces/a/g.json",
        "resources/gizmos.example.org/v1-preferredversion/namespaces/a/g.json",
    ]
    assert backed_up["resources/gizmos.example.org/namespaces/a/g.json"]["apiVersion"] == "example.org/v1"


def test_a_group_preferring_an_older_version_is_backed_up_at_that_version(tmp_path):
    hpa = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "a"},
        "spec": {"maxReplicas": 2},
    }
    table = [
        {"group": "autoscaling", "version": v, "resource": "horizontalpodautoscalers"}
        | {"kind": "HorizontalPodAutoscaler", "namespaced": True, "preferred": v == "v1"}
        for v in ("v2", "v1")
    ]
    with KubeEmulator(objects=[hpa], resources=table) as emulator:
        backed_up = back_up(emulator, tmp_path, "hpa")
    assert sorted(backed_up) == [
        "resources/horizontalpodautoscalers.autoscaling/namespaces/a/h.json",
        "resources/horizontalpodautoscalers.autoscaling/v1-preferredversion/namespaces/a/h.json",
    ]
