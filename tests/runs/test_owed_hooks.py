"""Post-hooks of a worker that died inside a block run within seconds, before the block is redone.

The shop's database block freezes db-0, db-1 and db-2 (fsfreeze pre-hooks) and thaws them after
its items and CSI snapshots. A worker is killed with SIGKILL while the block sits between the two;
the emulator's exec log shows when each thaw came. The batch lease keeps its default (60 s): the
thaw must not wait for it. Each scenario runs on a private stack, as in test_faults.
"""

import json
import time

import pytest

from tests.runs.test_faults import assert_exactly_once, wait_for_exec
from veloweb.devstack import DevStack

DB_PODS = ("db-0", "db-1", "db-2")
PROMPT = 6.0  # seconds from the kill to the thaw: the watchdog ticks every 0.5 s here


@pytest.fixture
def stack(tmp_path, cluster):
    cluster.exec_log.clear()
    with DevStack(tmp_path, VELOWEB_BATCH_ITEMS="20") as s:
        try:
            s.start(workers=2)
            s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
            yield s
        finally:
            cluster.clear_faults()
            cluster.clear_exec_scripts()


def execs(cluster, pod, text):
    return [e for e in cluster.exec_log if e["pod"] == pod and text in " ".join(e["command"])]


def wait_for_thaw(cluster, pods, timeout=30):
    deadline = time.monotonic() + timeout
    while not all(execs(cluster, pod, "--unfreeze") for pod in pods):
        assert time.monotonic() < deadline, f"no thaw of {pods} after {timeout}s: {cluster.exec_log}"
        time.sleep(0.05)


def owed_pods(stack, name):
    code = (
        "import json; from backups.models import OwedPostHooks\n"
        f"rows = OwedPostHooks.objects.filter(backup__name={name!r})\n"
        "print(json.dumps(sorted(p['metadata']['name'] for r in rows for p in r.pods)))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def hook_runs(stack, name):
    code = (
        "import json; from backups.models import HookRun\n"
        f"runs = HookRun.objects.filter(backup__name={name!r}).order_by('started')\n"
        "print(json.dumps([(h.phase, h.pod, h.exit_code) for h in runs]))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def test_post_hooks_run_within_seconds_of_a_killed_work_horse_before_the_block_is_redone(stack, cluster):
    # the block waits for its claims' snapshots after its pre-hooks and items: a slow CSI driver
    cluster.set_snapshot_behaviour(delay=15)
    stack.manage("backup", "create", "horse-1", "--include-namespaces", "shop", "--workers", "2")
    deadline = time.monotonic() + 60
    while owed_pods(stack, "horse-1") != list(DB_PODS):  # every pod frozen, its thaw recorded as owed
        assert time.monotonic() < deadline, cluster.exec_log
        time.sleep(0.2)
    assert not execs(cluster, "db-0", "--unfreeze")
    killed = time.time()
    assert stack.kill_horses() >= 1  # the RQ worker lives on and marks the job failed at once
    cluster.set_snapshot_behaviour(delay=0)  # the redo's snapshots are quick

    wait_for_thaw(cluster, DB_PODS)
    state = stack.wait_until_done("horse-1", timeout=120)
    assert state["phase"] == "Completed", json.dumps(state, indent=1)
    assert_exactly_once(stack, "horse-1", state, cluster)
    for pod in DB_PODS:
        first_freeze, redo_freeze = execs(cluster, pod, "--freeze")
        rescue_thaw, redo_thaw = execs(cluster, pod, "--unfreeze")
        assert rescue_thaw["started"] - killed < PROMPT, rescue_thaw["started"] - killed
        assert first_freeze["finished"] < killed < rescue_thaw["started"] < redo_freeze["started"]
        assert rescue_thaw["exit_code"] == 0 and redo_thaw["started"] > redo_freeze["finished"]
    # the thaws run for the dead worker are hook runs like any other, and the log says for whom
    runs = hook_runs(stack, "horse-1")
    assert sorted(pod for phase, pod, code in runs if phase == "post" and code == 0) == sorted(DB_PODS * 2)
    assert state["warnings"] == 1
    (note,) = [message for level, _, _, message in state["log"] if level == "warning"]
    assert "post-hooks of block 0 run by the watchdog on behalf of worker" in note
    assert "which died after the block's pre-hooks" in note


def test_a_whole_worker_killed_mid_pre_hooks_thaws_the_pods_already_frozen(stack, cluster):
    """No RQ worker is left to mark the job failed: its heartbeat key expiring tells the watchdog.
    db-2 was still freezing when the worker died: only db-0 and db-1 are owed a thaw."""
    cluster.script_exec("shop", "db-2", delay=30, match="--freeze")
    stack.manage("backup", "create", "worker-1", "--include-namespaces", "shop", "--workers", "1")
    wait_for_exec(cluster, "db-2", "--freeze")
    deadline = time.monotonic() + 30
    while owed_pods(stack, "worker-1") != ["db-0", "db-1"]:
        assert time.monotonic() < deadline, cluster.exec_log
        time.sleep(0.2)
    killed = time.time()
    stack.kill_workers()
    cluster.clear_exec_scripts()

    wait_for_thaw(cluster, ["db-0", "db-1"])
    for pod in ("db-0", "db-1"):
        (thaw,) = execs(cluster, pod, "--unfreeze")
        assert thaw["started"] - killed < PROMPT + 4, thaw["started"] - killed  # + the key's life
    assert not execs(cluster, "db-2", "--unfreeze")
    stack.start_workers(2)  # nothing redoes the block until workers come back; then it completes
    state = stack.wait_until_done("worker-1", timeout=120)
    assert state["phase"] == "Completed", json.dumps(state, indent=1)
    assert_exactly_once(stack, "worker-1", state, cluster)
