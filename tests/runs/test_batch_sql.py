"""BlockRun rows in bulk, and the live steps a process writes for its running blocks."""

import time

import pytest

from backups.models import Backup, BlockRun, Cluster
from backups.runs.batch_sql import insert_block_runs, live_steps, update_block_runs

pytestmark = pytest.mark.django_db(transaction=True)  # the steps' writer is a thread of its own


@pytest.fixture
def backup():
    cluster = Cluster.objects.create(name="rows", kubeconfig_path="/nonexistent")
    backup = Backup.objects.create(name="rows-1", cluster=cluster, phase=Backup.Phase.IN_PROGRESS)
    insert_block_runs([(backup.pk, i, i // 2, 1, f"pods shop/db-{i}", 1) for i in range(4)])
    return backup


def states(backup):
    return list(BlockRun.objects.filter(backup=backup).order_by("index").values_list("state", flat=True))


def test_inserted_rows_are_queued_blocks_with_their_plan(backup):
    runs = BlockRun.objects.filter(backup=backup).order_by("index")
    assert [(r.batch, r.item_count, r.first_item, r.pods) for r in runs] == [
        (i // 2, 1, f"pods shop/db-{i}", 1) for i in range(4)
    ]
    assert states(backup) == ["queued"] * 4


def test_the_latest_step_noted_is_written_and_never_over_a_final_state(backup):
    update_block_runs(
        backup.pk, ("state", "items_written"), [("done", 1, 0), ("failed", 0, 3), ("cancelled", 0, 2)]
    )
    live_steps.note(backup.pk, 0, "post-hooks")  # a step noted before its block's commit, written after
    live_steps.note(backup.pk, 3, "post-hooks")
    live_steps.note(backup.pk, 2, "post-hooks")  # a cancelled backup's block runs its post-hooks
    live_steps.note(backup.pk, 1, "pre-hooks")
    live_steps.note(backup.pk, 1, "items")
    deadline = time.monotonic() + 10
    while states(backup)[1] != "items" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert states(backup) == ["done", "items", "cancelled", "failed"]
    assert BlockRun.objects.get(backup=backup, index=0).items_written == 1
