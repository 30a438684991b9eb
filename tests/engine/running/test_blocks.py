"""Running one ItemBlock against the emulator over HTTP: fresh reads, hook order, Fail, FailBlock."""

import gzip
import tarfile

from backups.engine.items import ItemKey
from backups.engine.log import BackupLog
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.spec import BackupSpec
from backups.engine.running.blocks import (
    SKIP_FAIL_BLOCK,
    SKIP_FAIL_POD,
    SKIP_GONE,
    SKIP_READ_ERROR,
    SKIP_UNWRITABLE,
    run_block,
)
from backups.engine.running.csi_snapshots import snapshot_claim
from backups.engine.running.hook_spec import parse_resource_hooks
from backups.engine.velero_format.archive import BlockArchiveWriter, assemble_tarball, read_archive_items
from backups.engine.velero_format.layout import item_entry_names

DB_PODS = ["db-0", "db-1", "db-2"]
WEB_LABELS = {"app.kubernetes.io/name": "web"}


def block_with(plan, name):
    return next(b.keys() for b in plan.blocks if any(str(k) == name for k in b.keys()))


def run(source, keys, tmp_path, log, spec_hooks=(), already=None, **kwargs):
    member = tmp_path / "block.member"
    with BlockArchiveWriter(member) as writer:
        result = run_block(
            keys,
            source=source,
            table=source.resources(),
            spec_hooks=list(spec_hooks),
            executor=source.exec,
            writer=writer,
            log=log,
            already_backed_up=already,
            **kwargs,
        )
    tarball = tmp_path / "block.tar.gz"
    assemble_tarball([str(member)], str(tarball))
    with gzip.open(tarball, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        names = [m.name for m in tar]
    return result, names, dict(read_archive_items(str(tarball), each_object_once=True))


def test_db_block_runs_every_pre_hook_then_items_then_every_post_hook(emu, source, tmp_path):
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")
    result, names, objects = run(source, keys, tmp_path, log)

    assert [k for k, _ in result.written] == keys
    assert result.skipped == []
    for key in keys:  # both preferred copies, bodies as the API returns them now
        assert set(item_entry_names(key)) <= set(names)
    for key, obj in zip(keys, objects.values(), strict=True):
        assert obj == source.get(
            source.resources().by_group_resource(key.group_resource), key.namespace or None, key.name
        )

    pre, post = result.pre.results, result.post.results
    assert [r.pod for r in pre] == DB_PODS and [r.pod for r in post] == DB_PODS
    assert not any(r.failed or r.skipped for r in pre + post)
    assert result.started <= min(r.started for r in pre)
    assert max(r.finished for r in pre) <= result.items_started <= result.items_finished
    assert result.items_finished <= min(r.started for r in post)
    assert max(r.finished for r in post) <= result.finished

    # the emulator's own record of the execs agrees (same process, same clock)
    freezes = [e for e in emu.exec_log if "--freeze" in " ".join(e["command"])]
    thaws = [e for e in emu.exec_log if "--unfreeze" in " ".join(e["command"])]
    assert [e["pod"] for e in freezes] == DB_PODS and [e["pod"] for e in thaws] == DB_PODS
    assert all(e["container"] == "postgres" and e["exit_code"] == 0 for e in freezes + thaws)
    assert max(e["finished"] for e in freezes) <= result.items_started
    assert min(e["started"] for e in thaws) >= result.items_finished
    assert result.hooks_attempted == 6 and result.hooks_failed == 0


def test_a_failed_fail_pre_hook_drops_only_that_pod(emu, source, tmp_path):
    emu.script_exec("shop", "db-1", stderr="fsfreeze: busy", exit_code=1, match="--freeze")
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")
    result, _, objects = run(source, keys, tmp_path, log)

    db1 = next(k for k in keys if str(k) == "pods shop/db-1")
    assert result.skipped == [(db1, SKIP_FAIL_POD)]
    assert [k for k, _ in result.written] == [k for k in keys if k != db1]
    assert not any(name.endswith("/shop/db-1.json") for name in objects)
    errors = [e for e in log.entries if e.level == "error"]
    assert [(e.resource, e.namespace, e.name) for e in errors] == [("pods", "shop", "db-1")]
    assert result.pre.failed_pods == [("shop", "db-1")] and not result.failed_block
    assert [r.pod for r in result.post.results] == ["db-0", "db-2"]  # no post hook for the failed pod


def test_failblock_spec_hook_drops_the_whole_block_but_runs_post_hooks_of_passed_pods(emu, source, tmp_path):
    hooks = parse_resource_hooks(
        [
            {
                "name": "quiesce-web",
                "includedNamespaces": ["shop"],
                "labelSelector": {"matchLabels": WEB_LABELS},
                "pre": [{"exec": {"command": ["nginx", "-s", "quiesce"], "onError": "FailBlock"}}],
                "post": [{"exec": {"command": ["nginx", "-s", "resume"]}}],
            }
        ]
    )
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "persistentvolumeclaims shop/web-uploads")
    web_pods = [k.name for k in keys if k.resource == "pods"]
    assert len(web_pods) == 2
    emu.script_exec("shop", web_pods[0], exit_code=2, match="quiesce")

    result, names, objects = run(source, keys, tmp_path, log, spec_hooks=hooks)

    assert result.failed_block
    assert result.written == [] and objects == {} and names == ["metadata/version"]
    assert result.skipped == [(k, SKIP_FAIL_BLOCK) for k in keys]
    assert [r.pod for r in result.pre.results] == web_pods  # the other pod's pre hook still ran
    assert [(r.pod, r.command, r.failed) for r in result.post.results] == [
        (web_pods[1], ["nginx", "-s", "resume"], False)
    ]
    resumes = [e for e in emu.exec_log if e["command"] == ["nginx", "-s", "resume"]]
    assert [e["pod"] for e in resumes] == [web_pods[1]]
    assert log.errors == 1


def test_an_item_deleted_after_planning_is_a_warning_and_skipped(emu, source, tmp_path):
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")
    gone = next(k for k in keys if str(k) == "persistentvolumeclaims shop/data-db-2")
    warnings_before = log.warnings
    assert emu.delete("persistentvolumeclaims", "shop", "data-db-2") is not None

    result, _, objects = run(source, keys, tmp_path, log)

    assert result.skipped == [(gone, SKIP_GONE)]
    assert [k for k, _ in result.written] == [k for k in keys if k != gone]
    assert len(objects) == len(keys) - 1
    warnings = [e for e in log.entries if e.level == "warning" and e.name == "data-db-2"]
    assert len(warnings) == 1 and warnings[0].namespace == "shop"
    assert log.warnings == warnings_before + 1 and log.errors == 0


def test_a_failed_read_is_an_error_naming_the_item_and_the_block_goes_on(emu, source, tmp_path):
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")
    emu.fail(403, resource="persistentvolumes", verb="get", times=1)

    result, _, _ = run(source, keys, tmp_path, log)

    first_pv = next(k for k in keys if k.resource == "persistentvolumes")
    assert result.skipped == [(first_pv, SKIP_READ_ERROR)]
    assert len(result.written) == len(keys) - 1
    errors = [e for e in log.entries if e.level == "error"]
    assert len(errors) == 1 and errors[0].name == first_pv.name and first_pv.name in errors[0].message


def test_items_already_backed_up_are_no_ops_and_their_pods_run_no_hooks(emu, source, tmp_path):
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")
    db0 = keys[0]
    already = {db0}
    result, _, _ = run(source, keys, tmp_path, log, already=already)
    assert db0 not in [k for k, _ in result.written]
    assert [r.pod for r in result.pre.results] == ["db-1", "db-2"]
    assert already == set(keys)


def test_a_snapshotted_claim_is_written_after_its_snapshot_naming_it_for_the_restore(emu, source, tmp_path):
    """shop/web-uploads came from an earlier Velero restore: its traces go, its new snapshot is named."""
    log = BackupLog()
    keys = block_with(plan_item_blocks(source, BackupSpec(), log), "persistentvolumeclaims shop/web-uploads")
    table = source.resources()

    def snapshot(pvc):
        return snapshot_claim(pvc, source=source, table=table, backup_name="nightly", log=log, poll=0.05)

    result, names, objects = run(source, keys, tmp_path, log, snapshot=snapshot, backup_name="nightly")

    [taken] = result.snapshots
    assert taken.ok and taken.pvc == "web-uploads"
    vs_name = taken.volume_snapshot["metadata"]["name"]
    written = [str(k) for k, _ in result.written]
    claim_at = written.index("persistentvolumeclaims shop/web-uploads")
    # the claim follows the block's other items, then its snapshot objects
    assert [k for k in written[:claim_at]] == [str(k) for k in keys if k.resource != "persistentvolumeclaims"]
    assert [w.split()[0] for w in written[claim_at + 1 :]] == [
        "volumesnapshots.snapshot.storage.k8s.io",
        "volumesnapshotcontents.snapshot.storage.k8s.io",
    ]
    claim = objects["resources/persistentvolumeclaims/namespaces/shop/web-uploads.json"]
    assert claim["metadata"]["annotations"]["velero.io/volume-snapshot-name"] == vs_name
    labels = claim["metadata"]["labels"]
    assert (
        labels["velero.io/volume-snapshot-name"] == vs_name and labels["velero.io/backup-name"] == "nightly"
    )
    assert "velero.io/restore-name" not in labels
    assert not {"dataSource", "dataSourceRef", "selector"} & set(claim["spec"])
    vs_labels = taken.volume_snapshot["metadata"]["labels"]  # the claim's labels, as written
    assert vs_labels["app.kubernetes.io/name"] == "web" and "velero.io/restore-name" not in vs_labels
    live = emu.get("persistentvolumeclaims", "shop", "web-uploads")
    assert live["spec"]["dataSource"]["name"] == "velero-web-uploads-7xk2p"  # the cluster is untouched
    # the snapshot objects are additions of the block, not its items: they call for no CRD
    assert result.backed_up_resources == {k.group_resource for k in keys}


def test_an_item_whose_name_no_path_can_hold_fails_alone(emu, source, tmp_path):
    """A configmap named with `/` once failed its whole batch (67 unrelated items lost, the error
    filed under blocks that never held it): now that item is an error naming it, and the rest of
    its block is written."""
    log = BackupLog()
    good = block_with(plan_item_blocks(source, BackupSpec(), log), "pods shop/db-0")[0]
    bad = ItemKey("", "v1", "configmaps", "shop", "web/config")
    odd = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web/config", "namespace": "shop"}}

    def read(key, info):
        if key == bad:
            return odd
        return source.get(info, key.namespace or None, key.name)

    log = BackupLog()
    result, names, objects = run(source, [bad, good], tmp_path, log, read=read)
    assert [k for k, _ in result.written] == [good]
    assert result.skipped == [(bad, SKIP_UNWRITABLE)]
    assert set(item_entry_names(good)) <= set(names) and not any("web/config" in n for n in names)
    (error,) = [e for e in log.entries if e.level == "error"]
    assert (error.namespace, error.name) == ("shop", "web/config")
    assert "invalid name for a backup path: 'web/config'" in error.message
