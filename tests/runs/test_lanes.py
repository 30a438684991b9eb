"""A backup's workers run as lanes: threads of one RQ job, several blocks at a time per process.

One RQ worker process and a backup of 4 workers: every hooked pod is a block (and a batch) of its
own whose hooks take HOOK_DELAY seconds, so the recorded hook times show how many blocks ran at
once. Each scenario has a private stack, as in test_faults.
"""

import json

import pytest

from emulator import KubeEmulator
from tests.runs.test_faults import assert_exactly_once
from veloweb.devstack import DevStack

PODS = 8
HOOK_DELAY = 0.4


def lanes_cluster():
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lanes"}}]
    for i in range(PODS):
        annotations = {
            "pre.hook.backup.velero.io/command": '["/bin/sh", "-c", "sync"]',
            "post.hook.backup.velero.io/command": '["/bin/sh", "-c", "true"]',
        }
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"app-{i}", "namespace": "lanes", "annotations": annotations},
                "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "busybox"}]},
                "status": {"phase": "Running"},
            }
        )
    for i in range(30):  # plain blocks: they share batches
        objects.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "namespace": "lanes"}}
        )
    return objects


@pytest.fixture(scope="module")
def cluster():
    with KubeEmulator(objects=lanes_cluster()) as emulator:
        for i in range(PODS):
            emulator.script_exec("lanes", f"app-{i}", delay=HOOK_DELAY)
        yield emulator


def backed_up(stack, tmp_path, cluster, workers, **settings):
    """Run a backup of `workers` on one RQ process; its state, blocks (with hooks) and batches."""
    stack.start(workers=1)
    stack.manage("cluster", "add", "lanes", "--kubeconfig", cluster.write_kubeconfig(str(tmp_path / "kube")))
    stack.manage(
        "backup", "create", "lanes-1", "--cluster", "lanes", "--include-namespaces", "lanes",
        "--include-cluster-resources", "false", "--workers", str(workers),
    )  # fmt: skip
    state = stack.wait_until_done("lanes-1", timeout=120)
    code = (
        "import json; from backups.models import BlockBatch, BlockRun, HookRun; "
        "blocks = {r.index: dict(batch=r.batch, started=r.started.timestamp(), "
        "finished=r.finished.timestamp(), hooks=[]) "
        "for r in BlockRun.objects.filter(backup__name='lanes-1')}; "
        "[blocks[h.block_index]['hooks'].append((h.phase, h.pod, h.started, h.finished, h.exit_code)) "
        "for h in HookRun.objects.filter(backup__name='lanes-1')]; "
        "batches = list(BlockBatch.objects.filter(backup__name='lanes-1').values('job_id', 'worker')); "
        "print(json.dumps([blocks, batches]))"
    )
    blocks, batches = json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])
    return state, blocks, batches


def hooked_spans(blocks):
    """(first pre-hook started, last post-hook finished) of every block with hooks."""
    return [
        (min(h[2] for h in b["hooks"]), max(h[3] for h in b["hooks"])) for b in blocks.values() if b["hooks"]
    ]


def most_at_once(spans):
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_four_workers_on_one_process_run_four_hooked_blocks_at_once(tmp_path, cluster):
    with DevStack(tmp_path) as stack:
        state, blocks, batches = backed_up(stack, tmp_path, cluster, workers=4)
        assert state["phase"] == "Completed", state
        assert_exactly_once(stack, "lanes-1", state, cluster)

    hooked = [b for b in blocks.values() if b["hooks"]]
    assert len(hooked) == PODS
    for block in hooked:  # each block: its pre-hook, then its post-hook, within the block's run
        (pre,) = [h for h in block["hooks"] if h[0] == "pre"]
        (post,) = [h for h in block["hooks"] if h[0] == "post"]
        assert pre[4] == post[4] == 0
        assert block["started"] <= pre[2] <= pre[3] <= post[2] <= post[3] <= block["finished"]
        assert sum(1 for b in blocks.values() if b["batch"] == block["batch"]) == 1
    assert most_at_once(hooked_spans(blocks)) == 4  # as many as the backup's workers, never more
    # one RQ job ran every batch, on four lanes of one process
    assert len({b["job_id"] for b in batches}) == 1
    lanes = {b["worker"] for b in batches}
    assert len(lanes) == 4 and len({lane.split("/")[0] for lane in lanes}) == 1


def test_a_job_past_its_time_hands_its_lanes_to_a_fresh_job(tmp_path, cluster):
    """With VELOWEB_BATCH_JOB_SECONDS at 0 each lane runs one batch, then a new job takes over its
    place: the backup is whole, and never more than its 2 workers ran at once."""
    with DevStack(tmp_path, VELOWEB_BATCH_JOB_SECONDS="0") as stack:
        state, blocks, batches = backed_up(stack, tmp_path, cluster, workers=2)
        assert state["phase"] == "Completed", state
        assert_exactly_once(stack, "lanes-1", state, cluster)

    jobs = {b["job_id"] for b in batches}
    assert len(batches) >= PODS + 1
    assert len(jobs) >= len(batches) // 2  # at most one batch per lane of a job
    assert most_at_once(hooked_spans(blocks)) == 2
