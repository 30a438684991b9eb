"""`manage.py restore`: bad input is refused naming what is wrong (exit non-zero, nothing saved),
the dry run prints Velero's item list as JSON against a real backup and the emulator, and
describe/logs/list/delete show and remove restores."""

import gzip
import json
import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.engine.velero_format.layout import restore_file_key
from backups.models import Backup, Cluster, Restore, RestoreLogEntry, RestoreTier, StorageLocation
from tests.restore_fixtures import backed_up

Phase = Restore.Phase


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def location(db, tmp_path):
    return StorageLocation.objects.create(name="local", path=str(tmp_path / "storage"), default=True)


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="target", kubeconfig_path="/nonexistent")


@pytest.fixture
def backup(cluster, location):
    return Backup.objects.create(
        name="nightly-1", cluster=cluster, storage_location=location, phase="Completed"
    )


def run(*args) -> str:
    out = StringIO()
    call_command("restore", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from-backup", "nope"], "no backup named 'nope'"),
        (["--from-backup", "nightly-1", "--cluster", "nope"], "no cluster named 'nope'"),
        (["--from-backup", "nightly-1", "--namespace-mappings", "shop"],
         "invalid --namespace-mappings 'shop'"),
        (["--from-backup", "nightly-1", "--namespace-mappings", "a:b,a:c"], "'a' is mapped twice"),
        (["--from-backup", "nightly-1", "--existing-resource-policy", "merge"], "expected none or update"),
        (["--from-backup", "nightly-1", "--restore-pvs", "maybe"], "invalid --restore-pvs 'maybe'"),
        (["--from-backup", "nightly-1", "-l", "a=b", "--or-selector", "c=d"], "not both"),
        (["--from-backup", "nightly-1", "--selector", "app in ("], "app in ("),
        (["--from-backup", "nightly-1", "--resource-modifier-configmap", "/nonexistent/x.yaml"],
         "cannot read --resource-modifier-configmap"),
        (["--from-backup", "nightly-1", "--hooks", "{nope"], "invalid --hooks JSON"),
        (["Bad_Name", "--from-backup", "nightly-1"], "invalid restore name 'Bad_Name'"),
        (["--from-backup", "nightly-1", "--workers", "0"], "workers"),
        (["--from-backup", "nightly-1", "--namespace-mappings", "a:x,b:x"], "both mapped to 'x'"),
    ],
)
def test_bad_input_names_what_is_wrong_and_saves_nothing(backup, args, message):
    with pytest.raises(CommandError) as error:
        call_command("restore", "create", *args, stdout=StringIO(), stderr=StringIO())
    assert message in str(error.value)
    assert not Restore.objects.exclude(phase=Phase.FAILED_VALIDATION).exists()


def test_a_backup_that_did_not_complete_is_refused(backup):
    Backup.objects.filter(pk=backup.pk).update(phase="Failed")
    with pytest.raises(CommandError, match="only Completed or PartiallyFailed"):
        run("create", "r1", "--from-backup", "nightly-1")
    assert not Restore.objects.exists()


def test_a_taken_name_is_refused(backup):
    Restore.objects.create(name="r1", backup=backup, backup_name=backup.name, cluster=backup.cluster)
    with pytest.raises(CommandError, match="a restore named 'r1' already exists"):
        run("create", "r1", "--from-backup", "nightly-1")
    assert Restore.objects.count() == 1


def test_create_stores_velero_s_options(backup, tmp_path, django_capture_on_commit_callbacks):
    modifiers = tmp_path / "modifiers.yaml"
    modifiers.write_text(
        "version: v1\nresourceModifierRules:\n- conditions:\n    groupResource: configmaps\n"
        "  mergePatches:\n  - patchData: '{\"metadata\": {\"labels\": {\"restored\": \"yes\"}}}'\n"
    )
    with django_capture_on_commit_callbacks():
        out = run(
            "create", "r1", "--from-backup", "nightly-1", "--include-namespaces", "shop,bank",
            "--exclude-resources", "secrets", "--namespace-mappings", "shop:shop-copy",
            "--existing-resource-policy", "update", "--preserve-nodeports", "--restore-pvs", "false",
            "--status-include-resources", "widgets.example.com", "--priorities", "namespaces,pods,-,services",
            "--resource-modifier-configmap", str(modifiers), "--workers", "8", "--selector", "app=web",
        )  # fmt: skip
    assert "Restore r1 of backup nightly-1 into cluster target submitted." in out
    r = Restore.objects.get(name="r1")
    assert r.phase == Phase.NEW and r.job_id.startswith("dispatch-")
    assert r.included_namespaces == ["shop", "bank"] and r.excluded_resources == ["secrets"]
    assert r.namespace_mapping == {"shop": "shop-copy"} and r.existing_resource_policy == "update"
    assert r.preserve_node_ports is True and r.restore_pvs is False and r.workers == 8
    assert r.status_included_resources == ["widgets.example.com"]
    assert r.priorities == ["namespaces", "pods", "-", "services"]
    assert "mergePatches" in r.resource_modifiers and r.label_selector == "app=web"
    assert r.created_by_name.endswith("(CLI)")


def test_describe_list_logs_and_delete(backup, location):
    r = Restore.objects.create(
        name="r1", backup=backup, backup_name=backup.name, cluster=backup.cluster, storage_location=location,
        phase=Phase.PARTIALLY_FAILED, items_restored=3, items_skipped=1, items_failed=1, total_items=5,
        total_tiers=1, current_tier=0, errors=1, warnings=1, namespace_mapping={"shop": "shop-copy"},
    )  # fmt: skip
    RestoreTier.objects.create(restore=r, index=0, label="configmaps", item_count=5, restored=3, skipped=1,
                               failed=1)  # fmt: skip
    RestoreLogEntry.objects.create(restore=r, level="warning", namespace="shop-copy", time=1.0,
                                   message="could not restore, ConfigMap a already exists")  # fmt: skip
    RestoreLogEntry.objects.create(restore=r, level="error", namespace="", time=2.0, message="boom")
    described = run("describe", "r1")
    assert "Phase:        PartiallyFailed" in described
    assert "3 restored, 1 skipped, 1 failed of 5" in described
    assert "Namespace mappings: shop:shop-copy" in described
    assert "Warnings:\n  Namespaces shop-copy:\n    could not restore" in described
    assert "Errors:\n  Cluster:\n    boom" in described
    assert "tier 0 configmaps: 3 restored" in described
    listed = run("list")
    assert "r1" in listed and "PartiallyFailed" in listed
    assert "warning: shop-copy: could not restore" in run("logs", "r1")  # no log file: from the database
    path = location.path + "/" + restore_file_key("log", "r1")
    os.makedirs(os.path.dirname(path))
    with gzip.open(path, "wt") as f:
        f.write('{"level":"info","msg":"from the file"}\n')
    assert "from the file" in run("logs", "r1")
    assert run("delete", "r1") == "Restore r1 deleted.\n"
    assert not Restore.objects.exists() and not os.path.exists(path)
    with pytest.raises(CommandError, match="no restore named 'r1'"):
        run("describe", "r1")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from emulator import SAMPLE_CLUSTER, KubeEmulator

    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emu:
        emu.kubeconfig = emu.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        yield emu


def test_dry_run_prints_velero_s_items_as_json_and_changes_nothing(sample, location):
    backup = backed_up(sample.kubeconfig, location, "sample-1")
    Cluster.objects.create(name="sample", kubeconfig_path=sample.kubeconfig)
    before = sorted(json.dumps(obj, sort_keys=True) for obj in sample.objects())
    out = run(
        "create", "--from-backup", backup.name, "--cluster", "sample", "--dry-run", "--output", "json",
        "--namespace-mappings", "shop:shop-copy", "--exclude-resources", "secrets",
    )  # fmt: skip
    items = json.loads(out)["items"]
    assert items and all(
        set(i) == {"group", "version", "resource", "namespace", "name", "action", "reason"} for i in items
    )
    actions = {(i["resource"], i["namespace"], i["name"]): i["action"] for i in items}
    assert all(a in ("create", "skip", "conflict", "update", "excluded") for a in actions.values())
    # mapped: shop's objects would go to shop-copy, which is empty: created
    shop = [i for i in items if i["namespace"] == "shop-copy" and i["action"] != "excluded"]
    assert shop and all(i["action"] == "create" for i in shop)
    assert not [i for i in items if i["namespace"] == "shop"]
    assert all(i["action"] == "excluded" for i in items if i["resource"] == "secrets")
    # other namespaces exist unchanged in the cluster: skipped as identical
    assert any(i["action"] == "skip" for i in items)
    assert not Restore.objects.exists()
    assert before == sorted(json.dumps(obj, sort_keys=True) for obj in sample.objects())  # read-only
