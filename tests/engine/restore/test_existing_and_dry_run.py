"""Existing objects (policies none and update) and the dry run against a cluster with identical,
changed and missing objects: the dry run reads the target only."""

import time

import pytest

from backups.engine.restore import BackupContents, RestoreSpec, plan_restore

from .conftest import configmap, make_backup, namespace, pod, restore_from


def cluster():
    return [
        namespace("shop"),
        configmap("shop", "same", {"k": "1"}),
        configmap("shop", "changed", {"k": "1", "gone": "x"}),
        configmap("shop", "missing", {"k": "1"}),
        pod("shop", "web-0"),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "builder", "namespace": "shop"},
            "secrets": [{"name": "builder-dockercfg"}],
        },
    ]


@pytest.fixture
def backup(tmp_path):
    return make_backup(cluster(), tmp_path)


def _edit_target(target_emu):
    """After a first restore: `changed` differs, `missing` is gone, `same` untouched; the restored
    pod has been scheduled (it has a node now, which the backed-up version, as restored, lacks)."""
    deadline = time.time() + 5
    while not target_emu.get("pods", "shop", "web-0")["spec"].get("nodeName") and time.time() < deadline:
        time.sleep(0.05)
    cm = target_emu.get("configmaps", "shop", "changed")
    target_emu.add({**cm, "data": {"k": "2", "new": "y"}})
    target_emu.delete("configmaps", "shop", "missing")


def test_policy_none_skips_existing_objects_with_velero_warning(backup, tmp_path, target_emu, target):
    first = restore_from(backup, target, tmp_path, name="first")
    assert first.phase == "Completed" and first.results.warning_count == 0
    _edit_target(target_emu)
    second = restore_from(backup, target, tmp_path, name="second")
    assert second.phase == "Completed"
    warnings = second.results.results_json()["warnings"]["namespaces"]["shop"]
    assert warnings == [
        'could not restore, ConfigMap "changed" already exists. Warning: the in-cluster version is different '
        "than the backed-up version",
        # as in Velero: a running pod differs from its backup (the scheduler set spec.nodeName)
        'could not restore, Pod "web-0" already exists. Warning: the in-cluster version is different '
        "than the backed-up version",
    ]
    assert target_emu.get("configmaps", "shop", "changed")["data"] == {"k": "2", "new": "y"}
    assert target_emu.get("configmaps", "shop", "missing")["data"] == {"k": "1"}
    listed = second.results.resource_list()["v1/ConfigMap"]
    assert listed == ["shop/changed(failed)", "shop/missing(created)", "shop/same(skipped)"]
    # the identical one keeps the first restore's label: nothing was written to it
    same = target_emu.get("configmaps", "shop", "same")
    assert same["metadata"]["labels"]["velero.io/restore-name"] == "first"


def test_policy_update_patches_to_the_backed_up_state(backup, tmp_path, target_emu, target):
    restore_from(backup, target, tmp_path, name="first")
    _edit_target(target_emu)
    result = restore_from(backup, target, tmp_path, name="second", existing_resource_policy="update")
    assert result.phase == "Completed" and result.results.warning_count == 0
    changed = target_emu.get("configmaps", "shop", "changed")
    assert changed["data"] == {"k": "1", "gone": "x"}
    assert changed["metadata"]["labels"]["velero.io/restore-name"] == "second"
    # identical objects only get the new restore's labels (updateBackupRestoreLabels)
    same = target_emu.get("configmaps", "shop", "same")
    assert same["metadata"]["labels"]["velero.io/restore-name"] == "second"
    listed = result.results.resource_list()["v1/ConfigMap"]
    assert listed == ["shop/changed(updated)", "shop/missing(created)", "shop/same(skipped)"]


def test_a_service_account_that_differs_is_merged(backup, tmp_path, target_emu, target):
    restore_from(backup, target, tmp_path, name="first")
    sa = target_emu.get("serviceaccounts", "shop", "builder")
    target_emu.add({**sa, "secrets": [{"name": "other"}]})
    result = restore_from(backup, target, tmp_path, name="second", excluded_resources=("pods",))
    assert result.results.warning_count == 0
    assert result.results.resource_list()["v1/ServiceAccount"] == ["shop/builder(updated)"]
    merged = target_emu.get("serviceaccounts", "shop", "builder")
    assert merged["secrets"] == [{"name": "other"}, {"name": "builder-dockercfg"}]


def test_dry_run_says_create_skip_conflict_with_diffs_and_writes_nothing(
    backup, tmp_path, target_emu, target
):
    restore_from(backup, target, tmp_path, name="first")
    _edit_target(target_emu)
    target_emu.delete("pods", "shop", "web-0")
    target_emu.requests.clear()
    contents = BackupContents.open(backup.tarball, str(tmp_path / "dry"))
    plan = plan_restore(
        contents, RestoreSpec(backup_name=backup.name), target, dry_run=True, restore_name="first"
    )
    writes = {verb for (verb, _resource) in target_emu.requests if verb not in ("get", "list")}
    assert writes == set()

    by_name = {(i.resource, i.name): i for i in plan.items()}
    assert by_name[("configmaps", "same")].action == "skip"
    assert by_name[("configmaps", "same")].reason == "exists, identical"
    assert by_name[("configmaps", "missing")].action == "create"
    assert by_name[("pods", "web-0")].action == "create"
    changed = by_name[("configmaps", "changed")]
    assert changed.action == "conflict"
    assert {(d.path, d.backup, d.cluster) for d in changed.diff} == {
        ("data.k", "1", "2"),
        ("data.gone", "x", None),
        ("data.new", None, "y"),
    }
    assert by_name[("namespaces", "shop")].action == "skip"
    counts = plan.counts()
    assert counts["namespaces"]["shop"] == {"skip": 2, "conflict": 1, "create": 2}  # a cm and the account
    assert counts["namespaces"][""] == {"skip": 1}  # the namespace object itself
    assert plan.as_json()["items"][0].keys() == {
        "group",
        "version",
        "resource",
        "namespace",
        "name",
        "action",
        "reason",
    }

    update = plan_restore(
        contents,
        RestoreSpec(backup_name=backup.name, existing_resource_policy="update"),
        target,
        dry_run=True,
        restore_name="first",
    )
    assert {i.name: i.action for i in update.items() if i.resource == "configmaps"}["changed"] == "update"


def test_dry_run_into_an_empty_cluster_with_a_mapping(backup, tmp_path, target):
    contents = BackupContents.open(backup.tarball, str(tmp_path / "dry"))
    spec = RestoreSpec(backup_name=backup.name, namespace_mapping={"shop": "shop2"})
    plan = plan_restore(contents, spec, target, dry_run=True)
    assert {(i.namespace or i.name, i.action) for i in plan.items()} == {("shop2", "create")}
