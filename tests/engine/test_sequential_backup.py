"""A whole backup of the sample cluster, run sequentially into a local folder, read back object by object."""

import gzip
import json
import os
import tarfile

import pytest

from backups.engine.planning.spec import BackupSpec
from backups.engine.sequential_backup import run_local_backup
from backups.engine.velero_format.archive import read_archive_items
from backups.engine.velero_format.layout import item_entry_names, item_path
from backups.engine.velero_format.log_text import parse_line


def read_json(path):
    with open(path) as f:
        return json.load(f)


def read_gzip_json(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)


def entry_names(tarball):
    with gzip.open(tarball, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        return [m.name for m in tar]


def restored_claim_as_velero_writes_it(live):
    """shop/web-uploads came from a Velero restore: its restore traces go, nothing else changes."""
    spec = {k: v for k, v in live["spec"].items() if k not in ("dataSource", "dataSourceRef", "selector")}
    labels = {k: v for k, v in live["metadata"]["labels"].items() if not k.startswith("velero.io/")}
    assert len(spec) == len(live["spec"]) - 3 and len(labels) == len(live["metadata"]["labels"]) - 3
    return {**live, "metadata": {**live["metadata"], "labels": labels}, "spec": spec}


def test_full_backup_of_the_sample_cluster_holds_every_planned_item_once(source, tmp_path):
    out = tmp_path / "out"
    result = run_local_backup(source, BackupSpec(), "full", str(out))
    folder = out / "backups" / "full"

    assert sorted(os.listdir(out)) == ["backups"]  # the staging folder is gone
    assert sorted(os.listdir(folder)) == [
        "full-logs.gz",
        "full-resource-list.json.gz",
        "full-results.gz",
        "full-veloweb-index.tsv.gz",
        "full-volumeinfo.json.gz",
        "full.tar.gz",
        "velero-backup.json",
    ]
    planned = [k for block in result.plan.blocks for k in block.keys()]
    assert len(planned) == len(set(planned)) == result.items_written

    names = entry_names(folder / "full.tar.gz")
    assert names[0] == "metadata/version"
    assert len(names) == len(set(names)) == 1 + 2 * len(planned)
    objects = dict(read_archive_items(str(folder / "full.tar.gz"), each_object_once=True))
    assert list(objects) == [item_path(k) for k in planned]
    table = source.resources()
    for key in planned:
        assert set(item_entry_names(key)) <= set(names)
        live = source.get(table.by_group_resource(key.group_resource), key.namespace or None, key.name)
        if str(key) == "persistentvolumeclaims shop/web-uploads":
            live = restored_claim_as_velero_writes_it(live)
        assert objects[item_path(key)] == live

    backup = read_json(folder / "velero-backup.json")
    status = backup["status"]
    assert backup["metadata"]["name"] == "full" and backup["spec"]["ttl"] == "720h0m0s"
    assert status["phase"] == "Completed" and status["errors"] == 0
    assert status["warnings"] == result.warnings
    assert status["progress"] == {"totalItems": len(planned), "itemsBackedUp": len(planned)}
    assert status["hookStatus"] == {"hooksAttempted": 6, "hooksFailed": 0}
    assert status["formatVersion"] == "1.1.0" and status["expiration"] > status["startTimestamp"]

    resources = read_gzip_json(folder / "full-resource-list.json.gz")
    assert sum(len(v) for v in resources.values()) == len(planned)
    assert "shop/db-0" in resources["v1/Pod"]
    results = read_gzip_json(folder / "full-results.gz")
    assert results["errors"] == {"velero": [], "cluster": [], "namespaces": {}}
    with gzip.open(folder / "full-logs.gz", "rt") as f:
        lines = [parse_line(line) for line in f]
    assert len(lines) == len(result.log.entries) and all({"time", "level", "msg"} <= set(x) for x in lines)
    assert all(line["backup"] == "velero/full" for line in lines)


def test_db_block_hooks_bracket_its_items(emu, source, tmp_path):
    result = run_local_backup(source, BackupSpec(), "hooks", str(tmp_path / "out"))
    db = next(b for b in result.blocks if any(str(k) == "pods shop/db-0" for k, _ in b.written))
    freezes = [e for e in emu.exec_log if "--freeze" in " ".join(e["command"])]
    thaws = [e for e in emu.exec_log if "--unfreeze" in " ".join(e["command"])]
    assert len(freezes) == len(thaws) == 3
    assert max(e["finished"] for e in freezes) <= db.items_started <= db.items_finished
    assert min(e["started"] for e in thaws) >= db.items_finished
    assert max(r.finished for r in db.pre.results) <= db.items_started
    assert min(r.started for r in db.post.results) >= db.items_finished


def test_a_failed_fail_pre_hook_leaves_the_pod_out_and_the_backup_partially_failed(emu, source, tmp_path):
    emu.script_exec("shop", "db-1", stderr="fsfreeze: busy", exit_code=1, match="--freeze")
    out = tmp_path / "out"
    result = run_local_backup(source, BackupSpec(), "failpod", str(out))
    folder = out / "backups" / "failpod"

    objects = dict(read_archive_items(str(folder / "failpod.tar.gz"), each_object_once=True))
    assert "resources/pods/namespaces/shop/db-1.json" not in objects
    for kept in (
        "pods/namespaces/shop/db-0",
        "pods/namespaces/shop/db-2",
        "persistentvolumeclaims/namespaces/shop/data-db-1",
    ):
        assert f"resources/{kept}.json" in objects
    status = read_json(folder / "velero-backup.json")["status"]
    assert status["phase"] == "PartiallyFailed" and status["errors"] == 1 == result.errors
    assert status["progress"]["itemsBackedUp"] == result.plan.item_count - 1
    assert status["hookStatus"] == {"hooksAttempted": 5, "hooksFailed": 1}  # no post hook for db-1
    assert "db-1" not in read_gzip_json(folder / "failpod-resource-list.json.gz")["v1/Pod"]
    errors = read_gzip_json(folder / "failpod-results.gz")["errors"]
    assert len(errors["namespaces"]["shop"]) == 1 and "name: /db-1" in errors["namespaces"]["shop"][0]


def test_failblock_spec_hook_drops_the_block_and_still_runs_post_hooks(emu, source, tmp_path):
    hooks = [
        {
            "name": "quiesce-web",
            "includedNamespaces": ["shop"],
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "pre": [{"exec": {"command": ["nginx", "-s", "quiesce"], "onError": "FailBlock"}}],
            "post": [{"exec": {"command": ["nginx", "-s", "resume"]}}],
        }
    ]
    failing = "web-7d4b9c8f6d-q7m4z"
    emu.script_exec("shop", failing, exit_code=1, match="quiesce")
    out = tmp_path / "out"
    result = run_local_backup(source, BackupSpec(), "failblock", str(out), spec_hooks=hooks)

    block = next(b for b in result.blocks if b.failed_block)
    dropped = [k for k, _ in block.skipped]
    assert any(str(k) == "persistentvolumeclaims shop/web-uploads" for k in dropped)
    objects = dict(read_archive_items(str(out / "backups/failblock/failblock.tar.gz"), each_object_once=True))
    assert not {item_path(k) for k in dropped} & set(objects)
    assert len(objects) == result.plan.item_count - len(dropped)
    resumed = {e["pod"] for e in emu.exec_log if e["command"] == ["nginx", "-s", "resume"]}
    web_pods = {k.name for k in dropped if k.resource == "pods"}
    assert failing in web_pods and resumed >= web_pods - {failing} and failing not in resumed
    backup = read_json(out / "backups/failblock/velero-backup.json")
    assert backup["status"]["phase"] == "PartiallyFailed"
    assert backup["spec"]["hooks"] == {"resources": hooks}


class DeletingSource:
    """Deletes one object from the emulator just before the backup first reads it (after planning:
    planning never reads collected items one by one), so the run sees it gone."""

    def __init__(self, inner, emu, resource, namespace, name):
        self.inner, self.emu, self.target = inner, emu, (resource, namespace, name)
        self.deleted = False

    def resources(self):
        return self.inner.resources()

    def list(self, resource, namespace=None, label_selector=None):
        return self.inner.list(resource, namespace, label_selector)

    def get(self, resource, namespace, name):
        if not self.deleted and (resource.group_resource, namespace, name) == self.target:
            self.deleted = self.emu.delete(*self.target) is not None
        return self.inner.get(resource, namespace, name)

    def exec(self, *args):
        return self.inner.exec(*args)


def test_an_item_deleted_during_the_backup_is_a_warning_and_the_backup_completes(emu, source, tmp_path):
    deleting = DeletingSource(source, emu, "configmaps", "shop", "db-config")
    out = tmp_path / "out"
    result = run_local_backup(deleting, BackupSpec(), "gone", str(out))

    assert deleting.deleted
    assert any(
        str(k) == "configmaps shop/db-config" for k in [k for b in result.plan.blocks for k in b.keys()]
    )
    objects = dict(read_archive_items(str(out / "backups/gone/gone.tar.gz"), each_object_once=True))
    assert "resources/configmaps/namespaces/shop/db-config.json" not in objects
    assert len(objects) == result.plan.item_count - 1 == result.items_written
    assert any(e.level == "warning" and e.name == "db-config" for e in result.log.entries)
    status = read_json(out / "backups/gone/velero-backup.json")["status"]
    assert status["phase"] == "Completed" and status["errors"] == 0


def test_an_existing_backup_name_is_refused_and_left_untouched(source, tmp_path):
    out = tmp_path / "out"
    folder = out / "backups" / "taken"
    folder.mkdir(parents=True)
    (folder / "velero-backup.json").write_text("old")
    before = {p.name: (p.read_text(), p.stat().st_mtime_ns) for p in folder.iterdir()}

    with pytest.raises(ValueError, match="taken"):
        run_local_backup(source, BackupSpec(), "taken", str(out))

    assert {p.name: (p.read_text(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
    assert sorted(os.listdir(out)) == ["backups"] and os.listdir(out / "backups") == ["taken"]
