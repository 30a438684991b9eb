"""`velero-backup.json`: the Backup CR built from the spec, options and status dataclasses."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime, timedelta

import pytest

from backups.engine.durations import go_duration, parse_duration
from backups.engine.items import ItemKey
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
)
from backups.engine.velero_format.backup_json import (
    BackupJsonOptions,
    BackupJsonSpec,
    BackupJsonStatus,
    velero_backup_json,
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


# --- velero-backup.json ------------------------------------------------------------------------------


def test_backup_json_shape():
    start = datetime(2026, 5, 20, 10, 0, 0, tzinfo=UTC)
    backup = velero_backup_json(
        "b1",
        BackupJsonSpec(
            included_namespaces=["shop"],
            excluded_resources=["events"],
            include_cluster_resources=True,
            label_selector={"matchLabels": {"app": "web"}},
            ordered_resources={"pods": "shop/a,shop/b"},
        ),
        BackupJsonOptions(
            storage_location="minio", ttl=timedelta(hours=24), volume_snapshot_locations=["aws"]
        ),
        BackupJsonStatus(
            phase="Completed",
            start=start,
            completion=start + timedelta(minutes=3, seconds=5),
            errors=1,
            warnings=2,
            total_items=10,
            items_backed_up=10,
            hooks_attempted=3,
            hooks_failed=1,
        ),
    )
    assert backup["apiVersion"] == "velero.io/v1" and backup["kind"] == "Backup"
    assert backup["metadata"]["name"] == "b1"
    assert backup["metadata"]["namespace"] == "velero"
    assert backup["metadata"]["labels"] == {"velero.io/storage-location": "minio"}
    spec = backup["spec"]
    assert spec["includedNamespaces"] == ["shop"]
    assert spec["excludedNamespaces"] == []
    assert spec["includedResources"] == []
    assert spec["excludedResources"] == ["events"]
    assert spec["includeClusterResources"] is True
    assert spec["labelSelector"] == {"matchLabels": {"app": "web"}}
    assert spec["orderedResources"] == {"pods": "shop/a,shop/b"}
    assert spec["ttl"] == "24h0m0s"
    assert spec["storageLocation"] == "minio"
    assert spec["volumeSnapshotLocations"] == ["aws"]
    assert spec["hooks"] == {}
    assert spec["volumeGroupSnapshotLabelKey"] == "velero.io/volume-group"
    assert spec["itemOperationTimeout"] == "4h0m0s"
    assert spec["csiSnapshotTimeout"] == "10m0s"
    status = backup["status"]
    assert status["version"] == 1
    assert status["formatVersion"] == "1.1.0"
    assert status["phase"] == "Completed"
    assert status["startTimestamp"] == "2026-05-20T10:00:00Z"
    assert status["completionTimestamp"] == "2026-05-20T10:03:05Z"
    assert status["expiration"] == "2026-05-21T10:00:00Z"  # start + TTL, not completion + TTL
    assert (status["errors"], status["warnings"]) == (1, 2)
    assert status["progress"] == {"totalItems": 10, "itemsBackedUp": 10}
    assert status["hookStatus"] == {"hooksAttempted": 3, "hooksFailed": 1}
    json.dumps(backup)  # serialisable as is


def test_backup_json_defaults():
    backup = velero_backup_json("b2", status=BackupJsonStatus(start=1_700_000_000))
    assert backup["spec"]["includedNamespaces"] == ["*"]
    assert backup["spec"]["ttl"] == "720h0m0s"
    assert "includeClusterResources" not in backup["spec"]
    assert "labelSelector" not in backup["spec"]
    assert "completionTimestamp" not in backup["status"]
    assert backup["status"]["startTimestamp"] == "2023-11-14T22:13:20Z"
    assert backup["status"]["expiration"] == "2023-12-14T22:13:20Z"
    assert backup["status"]["phase"] == "InProgress"


def test_backup_json_new_filters_or_selectors_and_resource_policy_use_veleros_field_names():
    policy = "version: v1\nvolumePolicies: []\n"
    backup = velero_backup_json(
        "b3",
        BackupJsonSpec(
            included_cluster_scoped_resources=["persistentvolumes"],
            excluded_namespace_scoped_resources=["secrets"],
            or_label_selectors=[{"matchLabels": {"app": "web"}}, {"matchLabels": {"tier": "db"}}],
            resource_policy=policy,
        ),
        BackupJsonOptions(annotations={"note": "kept"}),
    )
    spec = backup["spec"]
    assert spec["includedClusterScopedResources"] == ["persistentvolumes"]
    assert spec["excludedNamespaceScopedResources"] == ["secrets"]
    assert "excludedClusterScopedResources" not in spec and "includedNamespaceScopedResources" not in spec
    assert spec["orLabelSelectors"] == [{"matchLabels": {"app": "web"}}, {"matchLabels": {"tier": "db"}}]
    # Velero's TypedLocalObjectReference to the ConfigMap holding the policy, named after the backup
    assert spec["resourcePolicy"] == {"kind": "configmap", "name": "b3"}
    assert backup["metadata"]["annotations"] == {"note": "kept", "veloweb.io/resource-policy": policy}
    plain = velero_backup_json("b4")
    assert not {"orLabelSelectors", "resourcePolicy", "includedClusterScopedResources"} & set(plain["spec"])
    assert "annotations" not in plain["metadata"]


@pytest.mark.parametrize(
    "value, text",
    [(720 * 3600, "720h0m0s"), (600, "10m0s"), (30, "30s"), (0, "0s"), (3661, "1h1m1s"), (1.5, "1.5s")],
)
def test_go_durations(value, text):
    assert go_duration(value) == text
    assert parse_duration(text) == value


@pytest.mark.parametrize("given, written", [("24h", "24h0m0s"), ("90m", "1h30m0s"), ("1h0m0s", "1h0m0s")])
def test_duration_text_is_written_back_as_go_prints_it(given, written):
    assert go_duration(given) == written


def test_backup_json_carries_the_selector_and_csi_counts():
    from backups.engine.planning.label_selectors import label_selector_object

    selector = label_selector_object("app=web,tier in (a,b),!legacy")
    backup = velero_backup_json(
        "b3",
        BackupJsonSpec(label_selector=selector),
        status=BackupJsonStatus(csi_snapshots_attempted=2, csi_snapshots_completed=1),
    )
    assert backup["spec"]["labelSelector"] == {
        "matchLabels": {"app": "web"},
        "matchExpressions": [  # sorted by key, as Kubernetes' parser does
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
        ],
    }
    assert (
        backup["status"]["csiVolumeSnapshotsAttempted"],
        backup["status"]["csiVolumeSnapshotsCompleted"],
    ) == (
        2,
        1,
    )
