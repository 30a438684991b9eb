"""BlockRun rows in bulk, the live steps a process writes for its running blocks, and rows of
two kinds of run with the same id kept apart (the seam a restore runs through)."""

import dataclasses
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backups.models import Backup, BlockBatch, BlockRun, Cluster
from backups.runs.batch_sql import (
    add_to_run,
    claim_pending_batch,
    insert_block_runs,
    live_steps,
    update_block_runs,
)
from backups.runs.kinds import BACKUP

pytestmark = pytest.mark.django_db(transaction=True)  # the steps' writer is a thread of its own


@pytest.fixture
def backup():
    cluster = Cluster.objects.create(name="rows", kubeconfig_path="/nonexistent")
    backup = Backup.objects.create(name="rows-1", cluster=cluster, phase=Backup.Phase.IN_PROGRESS)
    insert_block_runs(BACKUP, backup.pk, [(i, i // 2, 1, f"pods shop/db-{i}", 1) for i in range(4)])
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
        BACKUP, backup.pk, ("state", "items_written"), [("done", 1, 0), ("failed", 0, 3), ("cancelled", 0, 2)]
    )
    live_steps.note(
        BACKUP, backup.pk, 0, "post-hooks"
    )  # a step noted before its block's commit, written after
    live_steps.note(BACKUP, backup.pk, 3, "post-hooks")
    live_steps.note(BACKUP, backup.pk, 2, "post-hooks")  # a cancelled backup's block runs its post-hooks
    live_steps.note(BACKUP, backup.pk, 1, "pre-hooks")
    live_steps.note(BACKUP, backup.pk, 1, "items")
    deadline = time.monotonic() + 10
    while states(backup)[1] != "items" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert states(backup) == ["done", "items", "cancelled", "failed"]
    assert BlockRun.objects.get(backup=backup, index=0).items_written == 1


def test_rows_of_another_kind_of_run_with_the_same_id_are_its_own(backup):
    """A second kind (a test-only "probe", whose runs are rows of the same table) gets its own
    block runs, batches, claims and counters: nothing of the backup's is touched."""
    probe = dataclasses.replace(BACKUP, name="probe", row_fk=None)
    insert_block_runs(probe, backup.pk, [(i, 0, 5, f"probe {i}", 0) for i in range(2)])
    lease = timezone.now() + timedelta(minutes=1)
    for kind, number in ((BACKUP, 0), (probe, 0), (probe, 1)):
        BlockBatch.objects.create(
            run_kind=kind.name, run_id=backup.pk, number=number, first_block=0, block_count=1, item_count=1
        )

    update_block_runs(probe, backup.pk, ("state",), [("done", 0), ("done", 1)])
    assert states(backup) == ["queued"] * 4  # the backup's own rows
    probes = BlockRun.objects.filter(run_kind="probe", run_id=backup.pk).order_by("index")
    assert [(r.state, r.item_count) for r in probes] == [("done", 5), ("done", 5)]

    first = claim_pending_batch(probe, backup.pk, "w", "job-1", lease)
    second = claim_pending_batch(probe, backup.pk, "w", "job-1", lease)
    assert [(b.run_kind, b.number) for b in (first, second)] == [("probe", 0), ("probe", 1)]
    assert claim_pending_batch(probe, backup.pk, "w", "job-1", lease) is None
    assert BlockBatch.objects.get(run_kind="backup", run_id=backup.pk).state == BlockBatch.State.PENDING

    add_to_run(probe, backup.pk, blocks_done=2, errors=1)  # a kind's counters are on its model's row
    assert Backup.objects.filter(pk=backup.pk).values_list("blocks_done", "errors").get() == (2, 1)


def test_a_run_not_in_progress_has_no_batch_claimed(backup):
    BlockBatch.objects.create(backup=backup, number=0, first_block=0, block_count=1, item_count=1)
    Backup.objects.filter(pk=backup.pk).update(phase=Backup.Phase.CANCELLING)
    lease = timezone.now() + timedelta(minutes=1)
    assert claim_pending_batch(BACKUP, backup.pk, "w", "job-1", lease) is None


def test_a_running_hook_is_written_then_cleared_round_after_round(backup):
    """The writer thread writes every round (it died after its first one, and the page never
    showed a running hook again in that process)."""
    hook = {"pod": "shop/db-0", "container": "db", "command": ["sleep"], "since": 1.0, "timeout": 30.0}

    def row():
        return BlockRun.objects.filter(backup=backup, index=0).values_list("state", "step_detail").get()

    def wait_for(expected):
        deadline = time.monotonic() + 10
        while row() != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert row() == expected

    for _ in range(3):
        live_steps.note(BACKUP, backup.pk, 0, "pre-hooks")
        live_steps.note(BACKUP, backup.pk, 0, "pre-hooks", hook)
        wait_for(("pre-hooks", hook))
        live_steps.note(BACKUP, backup.pk, 0, "items")
        wait_for(("items", None))
