"""The CRDs of backed-up custom resources join the backup at its end, by Velero's rule."""

import gzip
import json

import pytest

from backups.engine.log import BackupLog
from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.spec import BackupSpec
from backups.engine.running.crds import CRD_RESOURCE, backup_crds, crds_are_added
from backups.engine.sequential_backup import run_local_backup
from backups.engine.velero_format.archive import BlockArchiveWriter, assemble_tarball, read_archive_items
from backups.engine.velero_format.layout import item_entry_names
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator
from tests.engine.objects import configmap, namespace
from tests.engine.sources import RecordingSource

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


def widget(ns, name):
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, "namespace": ns}}


def cluster(*extra, crd=WIDGET_CRD):
    return ManifestSource(
        [namespace("shop"), namespace("bank"), crd, widget("shop", "w1"), configmap("shop", "c"), *extra]
    )


@pytest.mark.parametrize(
    "spec, added",
    [
        # a full backup lists the CRDs like any cluster-scoped type: nothing to add at the end
        (BackupSpec(), False),
        (BackupSpec(included_namespaces=["shop"]), True),
        (BackupSpec(excluded_namespaces=["bank"]), True),
        (BackupSpec(included_namespaces=["shop"], include_cluster_resources=False), False),
        (BackupSpec(included_namespaces=["shop"], excluded_resources=["customresourcedefinitions"]), False),
        # CRDs explicitly included: the collector takes them
        (BackupSpec(included_resources=["widgets", "crd"], include_cluster_resources=True), False),
        (BackupSpec(included_resources=["widgets"], include_cluster_resources=True), True),
        # cluster resources unset and CRDs not in the resource list: Velero counts them as excluded
        (BackupSpec(included_resources=["widgets"]), False),
    ],
)
def test_crds_are_added_only_when_their_type_is_neither_included_nor_excluded(spec, added):
    source = cluster()
    assert crds_are_added(source, source.resources(), spec) is added


def test_a_namespace_labelled_out_of_backups_makes_a_full_backup_namespace_scoped():
    """Velero appends such namespaces to the excluded ones, so "all namespaces" no longer holds."""
    source = cluster(namespace("quiet", labels={"velero.io/exclude-from-backup": "true"}))
    assert crds_are_added(source, source.resources(), BackupSpec()) is True


def run_crds(source, types, tmp_path, already=(), spec=None):
    log = BackupLog()
    member = tmp_path / "crds.member"
    spec = spec or BackupSpec(included_namespaces=["shop"])
    with BlockArchiveWriter(member) as writer:
        written = backup_crds(source, source.resources(), spec, types, list(already), writer, log)
    tarball = tmp_path / "crds.tar.gz"
    assemble_tarball([str(member)], str(tarball))
    return written, dict(read_archive_items(str(tarball))), log


def test_the_crd_of_each_custom_type_backed_up_is_written_at_its_preferred_version(tmp_path):
    source = RecordingSource(cluster())
    written, entries, log = run_crds(source, {"widgets.example.com", "configmaps", "pods"}, tmp_path)

    [(key, kind)] = written
    assert (key.group_resource, key.version, key.name, kind) == (
        CRD_RESOURCE,
        "v1",
        "widgets.example.com",
        "CustomResourceDefinition",
    )
    assert sorted(entries) == sorted(item_entry_names(key))  # -preferredversion copy and plain path
    assert all(obj == WIDGET_CRD for obj in entries.values())
    assert source.gets[CRD_RESOURCE] == 1  # core types are never looked up
    assert log.errors == 0


def test_a_grouped_type_without_a_crd_is_skipped_quietly(tmp_path):
    written, entries, log = run_crds(cluster(), {"deployments.apps"}, tmp_path)
    assert written == [] and entries == {} and log.errors == log.warnings == 0


def test_a_crd_already_in_the_backup_is_not_written_twice(tmp_path):
    from backups.engine.items import ItemKey

    already = [ItemKey("apiextensions.k8s.io", "v1", "customresourcedefinitions", "", "widgets.example.com")]
    written, entries, _ = run_crds(cluster(), {"widgets.example.com"}, tmp_path, already)
    assert written == [] and entries == {}


def test_a_crd_labelled_out_of_backups_stays_out(tmp_path):
    labelled = {**WIDGET_CRD, "metadata": {**WIDGET_CRD["metadata"]}}
    labelled["metadata"]["labels"] = {"velero.io/exclude-from-backup": "true"}
    written, entries, log = run_crds(cluster(crd=labelled), {"widgets.example.com"}, tmp_path)
    assert written == [] and entries == {} and log.errors == 0


def test_a_failed_crd_read_is_an_error_naming_the_crd(tmp_path):
    source = RecordingSource(cluster(), fail_get={CRD_RESOURCE: 500})
    written, entries, log = run_crds(source, {"widgets.example.com"}, tmp_path)
    assert written == [] and entries == {}
    [error] = [e for e in log.entries if e.level == "error"]
    assert error.name == "widgets.example.com" and "error getting CRD widgets.example.com" in error.message


def test_nothing_is_read_when_the_rule_says_no(tmp_path):
    source = RecordingSource(cluster())
    spec = BackupSpec(included_namespaces=["shop"], include_cluster_resources=False)
    written, _, _ = run_crds(source, {"widgets.example.com"}, tmp_path, spec=spec)
    assert written == [] and source.gets[CRD_RESOURCE] == 0


# --- a whole backup against the emulated sample cluster ------------------------------------------------


@pytest.fixture
def source(tmp_path):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        src = connect(kubeconfig=emulator.write_kubeconfig(str(tmp_path / "kc")))
        yield src
        src.close()


def test_a_namespace_backup_with_widgets_ends_with_the_widget_crd(source, tmp_path):
    result = run_local_backup(source, BackupSpec(included_namespaces=["shop"]), "shop", str(tmp_path))
    folder = tmp_path / "backups" / "shop"
    planned = [k for block in result.plan.blocks for k in block.keys()]
    assert "customresourcedefinitions.apiextensions.k8s.io" not in {k.group_resource for k in planned}

    assert [str(k) for k, _ in result.crds] == [
        "customresourcedefinitions.apiextensions.k8s.io widgets.example.com"
    ]
    entries = list(read_archive_items(str(folder / "shop.tar.gz")))
    names = [name for name, _ in entries]
    assert names[-2:] == item_entry_names(result.crds[0][0])  # after every block's items
    table = source.resources()
    live = source.get(table.by_group_resource(CRD_RESOURCE), None, "widgets.example.com")
    assert entries[-1][1] == live

    total = len(planned) + 1
    assert result.items_written == total
    status = json.loads((folder / "velero-backup.json").read_text())["status"]
    assert status["progress"] == {"totalItems": total, "itemsBackedUp": total}
    with gzip.open(folder / "shop-resource-list.json.gz", "rt") as f:
        resources = json.load(f)
    assert resources["apiextensions.k8s.io/v1/CustomResourceDefinition"] == ["widgets.example.com"]
    assert sum(len(v) for v in resources.values()) == total


def test_a_namespace_backup_without_cluster_resources_has_no_crd(source, tmp_path):
    spec = BackupSpec(included_namespaces=["shop"], include_cluster_resources=False)
    result = run_local_backup(source, spec, "shop", str(tmp_path))
    assert result.crds == []
    assert not any(k.group_resource == CRD_RESOURCE for k, _ in result.written)
