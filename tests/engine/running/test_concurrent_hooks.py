"""The hooks of a block's pods at once (`hooks_concurrency`), against the emulator over HTTP: the
emulator's exec log, with the time each command started and finished, proves that each pod's own
hooks keep their order, that every pre-hook ends before the first item is written and that the
post-hooks start after the block's items and snapshots, with freezes that overlap instead of
following one another; Velero's order (1 pod at a time) stays available and gives the same
results and log lines."""

import time

import pytest

from backups.engine.items import ItemKey
from backups.engine.log import BackupLog
from backups.engine.running.blocks import run_block
from backups.engine.running.hook_runner import HOOK_PODS_AT_ONCE, pods_at_once
from backups.engine.running.hook_spec import parse_resource_hooks
from backups.engine.velero_format.archive import BlockArchiveWriter
from backups.kube import connect
from emulator import KubeEmulator
from tests.engine.objects import namespace, pod, pvc

PODS = ["db-0", "db-1", "db-2"]
FREEZE = 0.4  # seconds each pod's freeze takes in the emulator
HOOKS = [
    {
        "name": "freeze",
        "includedNamespaces": ["shop"],
        "pre": [
            {"exec": {"command": ["fsfreeze", "--freeze"]}},
            {"exec": {"command": ["mark", "frozen"]}},
        ],
        "post": [{"exec": {"command": ["fsfreeze", "--unfreeze"]}}],
    }
]


@pytest.fixture
def cluster(tmp_path):
    objects = [namespace("shop"), *(pod("shop", name) for name in PODS), pvc("shop", "data", volume="pv-1")]
    with KubeEmulator(objects=objects) as emulator:
        for name in PODS:
            emulator.script_exec("shop", name, match="--freeze", delay=FREEZE)
        source = connect(kubeconfig=emulator.write_kubeconfig(str(tmp_path / "kc")))
        yield emulator, source
        source.close()


def back_up(cluster, tmp_path, concurrency):
    emulator, source = cluster
    emulator.exec_log.clear()
    keys = [ItemKey("", "v1", "pods", "shop", name) for name in PODS]
    keys.append(ItemKey("", "v1", "persistentvolumeclaims", "shop", "data"))
    snapshots = []

    def snapshot(claim):  # stands for the CSI snapshot: its time is recorded, none is taken
        time.sleep(0.05)
        snapshots.append(time.time())

    log = BackupLog()
    with BlockArchiveWriter(tmp_path / f"block-{concurrency}.member") as writer:
        result = run_block(
            keys,
            source=source,
            table=source.resources(),
            spec_hooks=parse_resource_hooks(HOOKS, source.resources()),
            executor=source.exec,
            writer=writer,
            log=log,
            snapshot=snapshot,
            hooks_concurrency=concurrency,
        )
    execs = {(e["pod"], e["command"][-1]): e for e in emulator.exec_log}
    assert len(execs) == len(emulator.exec_log) == 3 * len(PODS)
    return result, log, execs, snapshots


def freeze_windows(execs):
    """Per pod, from its freeze starting to its thaw finishing: how long it stays frozen."""
    return {
        name: execs[(name, "--unfreeze")]["finished"] - execs[(name, "--freeze")]["started"] for name in PODS
    }


def test_concurrent_hooks_keep_each_pod_s_order_and_bracket_the_items_and_snapshots(cluster, tmp_path):
    result, log, execs, snapshots = back_up(cluster, tmp_path, HOOK_PODS_AT_ONCE)
    assert log.errors == 0 and [k.name for k, _ in result.written] == [*PODS, "data"]
    for name in PODS:  # each pod's own hooks in their order
        assert execs[(name, "--freeze")]["finished"] <= execs[(name, "frozen")]["started"]
    pre = [execs[(name, cmd)] for name in PODS for cmd in ("--freeze", "frozen")]
    post = [execs[(name, "--unfreeze")] for name in PODS]
    assert max(e["finished"] for e in pre) <= result.items_started  # no item before every pre-hook
    assert snapshots and min(e["started"] for e in post) >= max(snapshots) >= result.items_finished
    # the freezes overlap: every pod started freezing before any finished
    freezes = [execs[(name, "--freeze")] for name in PODS]
    assert max(e["started"] for e in freezes) < min(e["finished"] for e in freezes)
    assert max(freeze_windows(execs).values()) < 2 * FREEZE


def test_sequential_hooks_run_pod_after_pod_as_velero_with_the_same_results_and_log(cluster, tmp_path):
    concurrent, concurrent_log, _, _ = back_up(cluster, tmp_path, HOOK_PODS_AT_ONCE)
    result, log, execs, _ = back_up(cluster, tmp_path, 1)
    for before, after in zip(PODS, PODS[1:], strict=False):  # the next pod starts when one is done
        assert execs[(before, "frozen")]["finished"] <= execs[(after, "--freeze")]["started"]
    # the first pod stays frozen while the others freeze in turn
    assert freeze_windows(execs)["db-0"] >= len(PODS) * FREEZE
    key = lambda r: (r.pod, r.phase, r.command)  # noqa: E731
    assert [key(r) for r in result.hook_results] == [key(r) for r in concurrent.hook_results]
    assert [e.message.split(" succeeded")[0] for e in log.entries] == [
        e.message.split(" succeeded")[0] for e in concurrent_log.entries
    ]


def test_at_most_the_bound_of_pods_run_hooks_at_once(cluster, tmp_path):
    _, _, execs, _ = back_up(cluster, tmp_path, 2)
    freezes = sorted((e["started"], e["finished"]) for (_, cmd), e in execs.items() if cmd == "--freeze")
    overlapping = max(sum(1 for s, f in freezes if s <= start < f) for start, _ in freezes)
    assert overlapping == 2


def test_a_backup_s_choice_is_the_runner_s_bound():
    assert pods_at_once("concurrent") == HOOK_PODS_AT_ONCE > 1
    assert pods_at_once("sequential") == 1
