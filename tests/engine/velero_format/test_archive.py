"""The backup tarball as Velero writes it (spec 2 (d)), built from per-block gzip members, and the other
object-store files (results, resource list, velero-backup.json)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import time
from datetime import UTC, datetime, timedelta

import pytest

from backups.engine.durations import go_duration, parse_duration
from backups.engine.items import ItemKey
from backups.engine.log import LogEntry
from backups.engine.velero_format import layout
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
    assemble_tarball,
    block_member_path,
    closed_members,
    member_is_complete,
    read_archive_items,
    remove_partial_members,
    resource_list,
    results_file,
    velero_backup_json,
    write_gzip_json,
)
from tests.engine.objects import configmap, namespace, pod, pv

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


# --- members and assembly ----------------------------------------------------------------------------


@pytest.fixture
def two_blocks(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    block0 = [(NS, namespace("shop")), (POD, pod("shop", "web-1")), (DEPLOY, deployment_obj("shop", "web"))]
    block1 = [(PV, pv("pv-1")), (ItemKey("", "v1", "configmaps", "shop", "cfg"), configmap("shop", "cfg"))]
    e0 = write_block(block_member_path(str(staging), 0), block0)
    e1 = write_block(block_member_path(str(staging), 1), block1)
    out = str(tmp_path / "b1.tar.gz")
    size = assemble_tarball(closed_members(str(staging)), out)
    return {"staging": staging, "out": out, "size": size, "entries": e0 + e1, "objects": block0 + block1}


def test_assembled_tarball_reads_back_with_random_access_tarfile(two_blocks):
    names = names_of(two_blocks["out"])
    assert names == ["metadata/version", *two_blocks["entries"]]
    assert len(names) == 1 + 2 * 5
    assert two_blocks["size"] == os.path.getsize(two_blocks["out"])
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        assert tar.extractfile("metadata/version").read() == b"1.1.0\n"
        body = tar.extractfile("resources/pods/namespaces/shop/web-1.json").read()
    assert json.loads(body) == pod("shop", "web-1")
    assert b" " not in body.replace(b"busybox", b"")  # compact JSON: no separators with spaces


def test_assembled_tarball_reads_back_streaming_through_gzip(two_blocks):
    seen = []
    with gzip.open(two_blocks["out"], "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            seen.append(member.name)
            tar.extractfile(member).read()
    assert seen[0] == "metadata/version"
    assert seen[1:] == two_blocks["entries"]


def test_gnu_tar_lists_the_entries(two_blocks):
    if shutil.which("tar") is None:
        pytest.skip("no tar binary")
    result = subprocess.run(["tar", "-tzf", two_blocks["out"]], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["metadata/version", *two_blocks["entries"]]
    assert result.stderr == ""  # no "lone zero block" or trailing-garbage warnings
    subprocess.run(["gzip", "-t", two_blocks["out"]], check=True)  # every member's CRC and length


def test_entries_are_regular_files_mode_755_with_write_time(two_blocks):
    before = time.time() - 120
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        members = tar.getmembers()
    assert members
    for m in members:
        assert m.isreg(), m.name
        assert m.mode == 0o755, m.name
        assert before <= m.mtime <= time.time() + 1
        assert not m.name.startswith(("/", "./"))
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "")


def test_metadata_version_is_first(two_blocks):
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        first = tar.next()
        assert first.name == "metadata/version"
        assert tar.extractfile(first).read() == b"1.1.0\n"


def test_both_preferred_copies_are_identical(two_blocks):
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        for key, _obj in two_blocks["objects"]:
            versioned, plain = layout.item_entry_names(key, True)
            assert tar.extractfile(versioned).read() == tar.extractfile(plain).read()


def test_read_archive_items_streams_objects_and_can_skip_preferred_copies(two_blocks):
    items = list(read_archive_items(two_blocks["out"]))
    assert [n for n, _ in items] == two_blocks["entries"]
    once = dict(read_archive_items(two_blocks["out"], each_object_once=True))
    expected = {layout.item_path(k): o for k, o in two_blocks["objects"]}
    assert once == expected


def test_non_preferred_version_is_written_once_under_its_version(tmp_path):
    member = str(tmp_path / "m")
    entries = write_block(member, [])
    assert entries == []
    with BlockArchiveWriter(member, fsync=False) as w:
        w.add_item(HPA_OLD, {"kind": "HorizontalPodAutoscaler"}, preferred=False)
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([member], out)
    assert names_of(out) == [
        "metadata/version",
        "resources/horizontalpodautoscalers.autoscaling/v2beta2/namespaces/shop/h.json",
    ]


def test_a_rerun_block_replaces_its_member_so_nothing_is_written_twice(tmp_path):
    staging = str(tmp_path)
    path0 = block_member_path(staging, 0)
    write_block(
        path0,
        [(POD, pod("shop", "web-1")), (ItemKey("", "v1", "pods", "shop", "web-2"), pod("shop", "web-2"))],
    )
    write_block(block_member_path(staging, 1), [(PV, pv("pv-1"))])
    # block 0 is retried (its worker died after closing, or the job is re-run) with a changed object
    changed = pod("shop", "web-1", labels={"retry": "yes"})
    write_block(path0, [(POD, changed), (ItemKey("", "v1", "pods", "shop", "web-2"), pod("shop", "web-2"))])
    members = closed_members(staging)
    assert members == [path0, block_member_path(staging, 1)]
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball(members, out)
    names = names_of(out)
    assert len(names) == len(set(names)) == 1 + 2 * 3
    assert dict(read_archive_items(out))["resources/pods/namespaces/shop/web-1.json"] == changed


def test_a_killed_writer_leaves_only_a_partial_file_which_is_not_picked_up(tmp_path):
    staging = str(tmp_path)
    write_block(block_member_path(staging, 0), [(PV, pv("pv-1"))])
    # simulate a worker killed mid-block: the writer is never closed and its process gone
    w = BlockArchiveWriter(block_member_path(staging, 1), fsync=False)
    for i in range(200):
        w.add_item(ItemKey("", "v1", "configmaps", "shop", f"cm-{i}"), configmap("shop", f"cm-{i}"))
    w._file.flush()
    partial = w.temp_path
    assert os.path.getsize(partial) > 0 and partial.endswith(".partial")
    assert not os.path.exists(block_member_path(staging, 1))
    assert closed_members(staging) == [block_member_path(staging, 0)]
    assert not member_is_complete(partial)  # truncated gzip member is detectable
    assert member_is_complete(block_member_path(staging, 0))
    with pytest.raises(ValueError):
        assemble_tarball([block_member_path(staging, 0), partial], str(tmp_path / "x.tar.gz"))
    assert not os.path.exists(tmp_path / "x.tar.gz")
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball(closed_members(staging), out)
    assert names_of(out) == ["metadata/version", *layout.item_entry_names(PV)]
    assert remove_partial_members(staging) == [partial]
    w._file.close()


def test_an_exception_inside_the_writer_publishes_nothing(tmp_path):
    path = block_member_path(str(tmp_path), 0)
    with pytest.raises(RuntimeError), BlockArchiveWriter(path, fsync=False) as w:
        w.add_item(PV, pv("pv-1"))
        raise RuntimeError("worker failed")
    assert os.listdir(tmp_path) == []


def test_assembling_zero_blocks_gives_a_valid_versioned_tarball(tmp_path):
    out = str(tmp_path / "empty.tar.gz")
    assemble_tarball([], out)
    assert names_of(out) == ["metadata/version"]
    result = subprocess.run(["tar", "-tzf", out], capture_output=True, text=True, check=True)
    assert result.stdout == "metadata/version\n"
    assert list(read_archive_items(out)) == []
    with gzip.open(out) as gz:
        raw = gz.read()
    # one 512-byte header + one padded body block, then the end-of-archive marker: two zero blocks
    assert len(raw) == 512 + 512 + 1024
    assert raw[-1024:] == b"\0" * 1024 and raw[512:518] == b"1.1.0\n"


def test_an_empty_block_member_is_harmless(tmp_path):
    empty = write_block(str(tmp_path / "e"), [])
    assert empty == []
    write_block(str(tmp_path / "f"), [(PV, pv("pv-1"))])
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([str(tmp_path / "e"), str(tmp_path / "f")], out)
    assert names_of(out) == ["metadata/version", *layout.item_entry_names(PV)]
    with gzip.open(out) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        assert [m.name for m in tar] == ["metadata/version", *layout.item_entry_names(PV)]


def test_assembly_refuses_a_member_given_twice_or_not_gzip(tmp_path):
    member = str(tmp_path / "m")
    write_block(member, [(PV, pv("pv-1"))])
    with pytest.raises(ValueError, match="twice"):
        assemble_tarball([member, member], str(tmp_path / "b.tar.gz"))
    junk = tmp_path / "junk"
    junk.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="gzip"):
        assemble_tarball([member, str(junk)], str(tmp_path / "b.tar.gz"))
    assert sorted(os.listdir(tmp_path)) == ["junk", "m"]  # no tarball, no temp left behind


def test_assembly_replaces_an_existing_tarball_atomically(tmp_path):
    member = str(tmp_path / "m")
    write_block(member, [(PV, pv("pv-1"))])
    out = tmp_path / "b.tar.gz"
    out.write_bytes(b"old")
    assemble_tarball([member], str(out), buffer_size=7)  # tiny buffer: copy is chunked
    assert names_of(str(out)) == ["metadata/version", *layout.item_entry_names(PV)]


def test_long_and_non_ascii_names_survive(tmp_path):
    long_name = "x" * 200
    key = ItemKey("example.com", "v1", "widgets", "shop", long_name)
    key2 = ItemKey("", "v1", "configmaps", "shop", "caf\u00e9")
    member = str(tmp_path / "m")
    write_block(member, [(key, {"a": 1}), (key2, {"b": "\u00e9"})])
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([member], out)
    expected = ["metadata/version", *layout.item_entry_names(key), *layout.item_entry_names(key2)]
    assert names_of(out) == expected
    listed = (
        subprocess.run(["tar", "-tzf", out], capture_output=True, check=True).stdout.decode().splitlines()
    )
    assert listed == expected
    assert dict(read_archive_items(out))[layout.item_path(key2)] == {"b": "\u00e9"}


def test_throughput_of_ten_thousand_small_objects(tmp_path, capsys):
    objs = [
        (ItemKey("", "v1", "configmaps", f"ns-{i % 50}", f"cm-{i}"), configmap(f"ns-{i % 50}", f"cm-{i}"))
        for i in range(10_000)
    ]
    start = time.perf_counter()
    with BlockArchiveWriter(str(tmp_path / "m"), fsync=False) as w:
        for key, obj in objs:
            w.add_item(key, obj)
    out = str(tmp_path / "b.tar.gz")
    size = assemble_tarball([str(tmp_path / "m")], out, fsync=False)
    elapsed = time.perf_counter() - start
    assert sum(1 for _ in read_archive_items(out)) == 20_000
    with capsys.disabled():
        print(
            f"\n[archive] 10k objects -> 20k entries: {w.raw_bytes / 1e6:.1f} MB tar, "
            f"{size / 1e6:.2f} MB gz in {elapsed:.2f}s = {w.raw_bytes / 1e6 / elapsed:.1f} MB/s tar, "
            f"{10_000 / elapsed:.0f} objects/s"
        )


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


# --- velero-backup.json ------------------------------------------------------------------------------


def test_backup_json_shape():
    start = datetime(2026, 5, 20, 10, 0, 0, tzinfo=UTC)
    backup = velero_backup_json(
        "b1",
        storage_location="minio",
        included_namespaces=["shop"],
        excluded_resources=["events"],
        include_cluster_resources=True,
        label_selector={"matchLabels": {"app": "web"}},
        ordered_resources={"pods": "shop/a,shop/b"},
        ttl=timedelta(hours=24),
        volume_snapshot_locations=["aws"],
        phase="Completed",
        start=start,
        completion=start + timedelta(minutes=3, seconds=5),
        errors=1,
        warnings=2,
        total_items=10,
        items_backed_up=10,
        hooks_attempted=3,
        hooks_failed=1,
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
    backup = velero_backup_json("b2", start=1_700_000_000)
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
        included_cluster_scoped_resources=["persistentvolumes"],
        excluded_namespace_scoped_resources=["secrets"],
        or_label_selectors=[{"matchLabels": {"app": "web"}}, {"matchLabels": {"tier": "db"}}],
        resource_policy=policy,
        annotations={"note": "kept"},
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
        "b3", label_selector=selector, csi_snapshots_attempted=2, csi_snapshots_completed=1
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


@pytest.mark.parametrize(
    "name, size, mtime",
    [
        ("metadata/version", 6, 1_700_000_000),
        ("resources/pods/namespaces/shop/web-1.json", 0, 0),
        ("r/" + "x" * 98, 8**11 - 1, 8**11 - 1),
        ("r/" + "x" * 99, 123, 1),  # > 100 bytes: pax path
        ("resources/configmaps/namespaces/shop/caf\u00e9.json", 5, 5),  # non-ASCII: pax path
    ],
)
def test_fast_header_matches_tarfile(name, size, mtime):
    from backups.engine.velero_format.archive import _tar_header

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, 0o755, mtime, tarfile.REGTYPE
    assert _tar_header(name, size, mtime) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
