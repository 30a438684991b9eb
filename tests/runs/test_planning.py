"""How the dispatcher cuts a backup of the sample cluster into batches, and its workers into lanes.

Blocks that wait (on hooks, or on CSI snapshots of their claims) are batches of their own, so
their waits overlap on parallel lanes; every other block shares a batch of about
VELOWEB_BATCH_ITEMS items. Blocks keep their order: batch after batch, block after block.
"""

import pytest

from backups.engine.log import BackupLog
from backups.models import Backup, BlockRun, Cluster
from backups.runs import planning
from backups.runs.queues import split_lanes
from backups.runs.staging import Staging

HOOK_ANNOTATION = "hook.backup.velero.io/command"
PAYMENTS_HOOK = {
    "resources": [
        {
            "name": "flush",
            "includedNamespaces": ["payments"],
            "pre": [{"exec": {"command": ["/bin/sh", "-c", "sync"]}}],
        }
    ]
}


@pytest.fixture
def plan(db, cluster, settings, tmp_path):
    """Plan a backup of the sample cluster; the batches as lists of blocks, each a list of keys."""
    settings.VELOWEB_STAGING_DIR = tmp_path
    settings.VELOWEB_BATCH_ITEMS = 20
    registered = Cluster.objects.create(name="sample", kubeconfig_path=cluster.kubeconfig)

    def make(**fields):
        backup = Backup.objects.create(name=f"plan-{Backup.objects.count()}", cluster=registered, **fields)
        staging = Staging.of(backup)
        staging.reset()
        rows, total_blocks, total_items = planning.plan(backup, staging, BackupLog())
        batches = []
        for row in rows:
            first, blocks = staging.read_batch(row.number)
            assert (first, len(blocks), sum(map(len, blocks))) == (
                row.first_block,
                row.block_count,
                row.item_count,
            )
            batches.append([[item.key for item in block] for block in blocks])
        assert sum(map(len, batches)) == total_blocks == BlockRun.objects.filter(backup=backup).count()
        assert sum(len(b) for batch in batches for b in batch) == total_items
        return backup, batches

    return make


def pods(block):
    return [k for k in block if k.resource == "pods" and not k.group]


def claims(block):
    return [k for k in block if k.resource == "persistentvolumeclaims" and not k.group]


def annotated_for_hooks(cluster, block):
    annotations = (
        cluster.get("pods", k.namespace, k.name)["metadata"].get("annotations", {}) for k in pods(block)
    )
    return any(HOOK_ANNOTATION in " ".join(a) for a in annotations)


def test_blocks_with_hooks_or_claims_to_snapshot_are_batches_of_their_own(plan, cluster):
    _, batches = plan()
    alone = [batch[0] for batch in batches if len(batch) == 1]
    shared = [block for batch in batches if len(batch) > 1 for block in batch]

    assert any(str(k) == "pods shop/db-0" for block in alone for k in block)
    assert shared, "plain blocks share batches"
    for block in shared:
        assert not annotated_for_hooks(cluster, block) and not claims(block), block
    for batch in batches:
        assert len(batch) == 1 or sum(map(len, batch)) <= 20
    assert [b for b in alone if claims(b)], "the sample cluster's claims are snapshotted"


def test_without_snapshots_blocks_with_claims_share_batches(plan, cluster):
    _, batches = plan(snapshot_volumes=False)
    shared = [block for batch in batches if len(batch) > 1 for block in batch]

    assert [b for b in shared if claims(b)], "a claim that is not snapshotted does not wait"
    assert not [b for b in shared if annotated_for_hooks(cluster, b)]


def test_a_volume_policy_that_snapshots_makes_claims_wait_alone_even_with_snapshots_off(plan):
    """Velero's volume helper: a `snapshot` policy takes the snapshot whatever snapshotVolumes says."""
    policy = "version: v1\nvolumePolicies:\n- conditions: {csi: {}}\n  action: {type: snapshot}\n"
    _, batches = plan(snapshot_volumes=False, resource_policy=policy)
    assert not [b for batch in batches if len(batch) > 1 for b in batch if claims(b)]


def test_the_backups_scoped_filters_and_or_selectors_decide_what_is_planned(plan):
    _, batches = plan(
        included_namespaces=["shop"],
        included_namespace_scoped_resources=["pods"],
        or_label_selectors=["app.kubernetes.io/name=web", "app.kubernetes.io/name=nothing"],
    )
    keys = sorted(f"{k.resource} {k.namespace}/{k.name}" for batch in batches for b in batch for k in b)
    assert keys == ["namespaces /shop", "pods shop/web-7d4b9c8f6d-q7m4z", "pods shop/web-7d4b9c8f6d-x2k9p"]


def test_pods_hooked_by_the_backup_spec_go_alone_too(plan):
    _, without = plan(snapshot_volumes=False)
    _, batches = plan(snapshot_volumes=False, hooks=PAYMENTS_HOOK)

    def payment_pod_blocks(batches):
        return [(len(batch), block) for batch in batches for block in batch if any(
            k.namespace == "payments" for k in pods(block))]  # fmt: skip

    assert any(size > 1 for size, _ in payment_pod_blocks(without))
    assert payment_pod_blocks(batches)
    assert all(size == 1 for size, _ in payment_pod_blocks(batches))


def test_blocks_keep_their_order_across_batches(plan):
    backup, batches = plan()
    runs = BlockRun.objects.filter(backup=backup).order_by("index")
    flat = [(number, block) for number, batch in enumerate(batches) for block in batch]
    assert [(r.batch, r.item_count, r.first_item) for r in runs] == [
        (number, len(block), str(block[0])) for number, block in flat
    ]
    assert [r.pods for r in runs] == [len(pods(block)) for _, block in flat]


@pytest.mark.parametrize(
    ("workers", "processes", "lanes"),
    [(1, 2, [1]), (2, 2, [1, 1]), (4, 2, [2, 2]), (5, 2, [3, 2]), (16, 2, [8, 8]), (2, 4, [1, 1])]
    + [(3, 0, [3])],  # no worker process registered yet: one job
)
def test_a_backups_workers_become_lanes_spread_over_the_worker_processes(workers, processes, lanes):
    assert split_lanes(workers, processes) == lanes
