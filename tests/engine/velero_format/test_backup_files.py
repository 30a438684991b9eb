"""The object-store files beside the tarball: the results file and the resource list."""

from __future__ import annotations

import gzip
import json
import os
import tarfile

from backups.engine.items import ItemKey
from backups.engine.log import LogEntry
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
)
from backups.engine.velero_format.backup_files import resource_list, results_file, write_gzip_json

POD = ItemKey("", "v1", "pods", "shop", "web-1")
DEPLOY = ItemKey("apps", "v1", "deployments", "shop", "web")
PV = ItemKey("", "v1", "persistentvolumes", "", "pv-1")
CRB = ItemKey("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "", "admin")
NS = ItemKey("", "v1", "namespaces", "", "shop")
HPA_OLD = ItemKey("autoscaling", "v2beta2", "horizontalpodautoscalers", "shop", "h")


def deployment_obj(ns, name):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}}


def names_of(path):
    with tarfile.open(path, "r:gz") as tar:
        return tar.getnames()


def write_block(path, items):
    with BlockArchiveWriter(path, fsync=False) as w:
        for key, obj in items:
            w.add_item(key, obj)
    return w.entries


# --- results file ------------------------------------------------------------------------------------


def test_results_file_files_entries_per_namespace_cluster_and_velero():
    entries = [
        LogEntry("error", "pre hook failed", resource="pods", namespace="shop", name="web-1"),
        LogEntry("warning", "related item not found", resource="persistentvolumes", name="pv-9"),
        LogEntry("error", "progress patch failed"),
        LogEntry("info", "backed up pod", resource="pods", namespace="shop", name="web-1"),
        LogEntry("warning", "argocd namespace", namespace="argocd"),
        LogEntry("error", "second", resource="pods", namespace="bank", name="p"),
    ]
    result = results_file(entries)
    assert result == {
        "errors": {
            "velero": ["message: /progress patch failed"],
            "cluster": [],
            "namespaces": {
                "bank": ["resource: /pods name: /p message: /second"],
                "shop": ["resource: /pods name: /web-1 message: /pre hook failed"],
            },
        },
        "warnings": {
            "velero": [],
            "cluster": ["resource: /persistentvolumes name: /pv-9 message: /related item not found"],
            "namespaces": {"argocd": ["message: /argocd namespace"]},
        },
    }
    assert list(result["errors"]["namespaces"]) == ["bank", "shop"]


def test_results_file_round_trips_through_gzip(tmp_path):
    path = str(tmp_path / "b1-results.gz")
    data = results_file([LogEntry("error", "boom", resource="pods", namespace="shop", name="p")])
    size = write_gzip_json(path, data)
    assert size == os.path.getsize(path)
    with gzip.open(path, "rt") as f:
        assert json.load(f) == data
    assert os.listdir(tmp_path) == ["b1-results.gz"]


# --- resource list -----------------------------------------------------------------------------------


def test_resource_list_groups_by_api_version_and_kind_sorted():
    items = [
        (ItemKey("", "v1", "pods", "shop", "web-2"), "Pod"),
        (ItemKey("", "v1", "pods", "bank", "a"), "Pod"),
        (ItemKey("", "v1", "pods", "shop", "web-1"), "Pod"),
        (ItemKey("", "v1", "pods", "shop", "web-1"), "Pod"),  # backed-up items are a set
        (ItemKey("apps", "v1", "deployments", "shop", "web"), "Deployment"),
        (ItemKey("", "v1", "persistentvolumes", "", "pv-1"), "PersistentVolume"),
        (ItemKey("", "v1", "namespaces", "", "shop"), "Namespace"),
    ]
    assert resource_list(items) == {
        "apps/v1/Deployment": ["shop/web"],
        "v1/Namespace": ["shop"],
        "v1/PersistentVolume": ["pv-1"],
        "v1/Pod": ["bank/a", "shop/web-1", "shop/web-2"],
    }
    assert list(resource_list(items)) == sorted(resource_list(items))
