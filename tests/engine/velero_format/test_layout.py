"""Names inside a Velero backup: tar entry paths (format 1.1.0) and object-store keys."""

from __future__ import annotations

import tarfile

import pytest

from backups.engine.items import ItemKey
from backups.engine.velero_format import layout
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
)

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


# --- paths -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, preferred, expected",
    [
        (
            POD,
            True,
            [
                "resources/pods/v1-preferredversion/namespaces/shop/web-1.json",
                "resources/pods/namespaces/shop/web-1.json",
            ],
        ),
        (
            DEPLOY,
            True,
            [
                "resources/deployments.apps/v1-preferredversion/namespaces/shop/web.json",
                "resources/deployments.apps/namespaces/shop/web.json",
            ],
        ),
        (
            PV,
            True,
            [
                "resources/persistentvolumes/v1-preferredversion/cluster/pv-1.json",
                "resources/persistentvolumes/cluster/pv-1.json",
            ],
        ),
        (
            CRB,
            True,
            [
                "resources/clusterrolebindings.rbac.authorization.k8s.io/v1-preferredversion/cluster/admin.json",
                "resources/clusterrolebindings.rbac.authorization.k8s.io/cluster/admin.json",
            ],
        ),
        (
            NS,
            True,
            [
                "resources/namespaces/v1-preferredversion/cluster/shop.json",
                "resources/namespaces/cluster/shop.json",
            ],
        ),
        (HPA_OLD, False, ["resources/horizontalpodautoscalers.autoscaling/v2beta2/namespaces/shop/h.json"]),
    ],
)
def test_entry_paths_follow_velero_versioned_item_file_path(key, preferred, expected):
    assert layout.item_entry_names(key, preferred) == expected


def test_a_namespace_object_is_cluster_scoped_even_if_its_key_names_itself_as_namespace():
    key = ItemKey("", "v1", "namespaces", "shop", "shop")
    assert layout.item_path(key) == "resources/namespaces/cluster/shop.json"


@pytest.mark.parametrize("bad", ["", "a/b", "..", "."])
def test_names_that_would_escape_the_layout_are_refused(bad):
    with pytest.raises(ValueError):
        layout.item_path(ItemKey("", "v1", "pods", "shop", bad))


def test_parse_item_path_inverts_item_path():
    for key in (POD, DEPLOY, PV, NS, HPA_OLD):
        for name in layout.item_entry_names(key, key is not HPA_OLD):
            parsed = layout.parse_item_path(name)
            assert (parsed["group_resource"], parsed["namespace"], parsed["name"]) == (
                key.group_resource,
                key.namespace,
                key.name,
            )
            assert parsed["preferred"] == name.split("/")[2].endswith("-preferredversion")
    assert layout.parse_item_path("metadata/version") is None


def test_object_store_keys():
    assert layout.backup_dir("b1") == "backups/b1/"
    assert layout.backup_dir("b1", prefix="/team-a/") == "team-a/backups/b1/"
    assert layout.tarball_key("b1") == "backups/b1/b1.tar.gz"
    assert layout.logs_key("b1", "p") == "p/backups/b1/b1-logs.gz"
    assert layout.results_key("b1") == "backups/b1/b1-results.gz"
    assert layout.resource_list_key("b1") == "backups/b1/b1-resource-list.json.gz"
    assert layout.metadata_key("b1") == "backups/b1/velero-backup.json"
    assert layout.volume_snapshots_key("b1") == "backups/b1/b1-volumesnapshots.json.gz"
