"""Tier gating of a restore, on the database and Redis only (the jobs are enqueued, not run): the
plan is cut into batches per tier, only the current tier's batches exist, the next tier's appear
when every batch of the one before is done, once however many lanes race for it, and the last
tier's end moves the restore to Finalizing with its finalize job. A batch given up after its last
attempt makes its items errors and the restore goes on; a restore's batch jobs never share an id
with a backup's of the same number."""

import django_rq
import pytest
from django.utils import timezone

from backups.engine.restore import PlannedItem, RestorePlan, Tier
from backups.models import Backup, BlockBatch, Cluster, Restore, RestoreLogEntry, RestoreTier
from backups.runs import batches, queues, restore_ops, restore_planning, restore_tiers
from backups.runs.kinds import BACKUP, RESTORE
from backups.runs.staging import Staging

Phase = Restore.Phase


def item(resource, namespace, name, action="create"):
    return PlannedItem("", "v1", resource, namespace, name, action, "", (), namespace, "Kind", -1, 0)


@pytest.fixture
def restore(db, settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path
    cluster = Cluster.objects.create(name="target", kubeconfig_path="/nonexistent")
    backup = Backup.objects.create(name="b1", cluster=cluster, phase="Completed")
    restore = Restore.objects.create(
        name="r1", backup=backup, backup_name="b1", cluster=cluster, workers=2, phase=Phase.IN_PROGRESS,
        started=timezone.now(),
    )  # fmt: skip
    plan = RestorePlan(
        [
            Tier("namespaces", [item("namespaces", "", "shop")]),
            Tier("secrets", [item("secrets", "shop", "s", action="excluded")]),  # nothing to restore
            Tier("configmaps", [item("configmaps", "shop", f"c{i}") for i in range(10)]),
            Tier("*", [item("services", "shop", "web"), item("serviceaccounts", "shop", "sa")]),
        ]
    )
    staging = Staging.of_restore(restore)
    staging.reset()
    tiers = restore_planning.write_plan(restore, staging, plan)
    RestoreTier.objects.bulk_create(
        RestoreTier(restore=restore, index=i, label=t["label"], item_count=t["items"])
        for i, t in enumerate(tiers)
    )
    Restore.objects.filter(pk=restore.pk).update(total_tiers=len(tiers), total_items=13)
    django_rq.get_queue(queues.BLOCKS_QUEUE).empty()
    return restore


def batch_numbers(restore) -> list[int]:
    rows = BlockBatch.objects.filter(run_kind="restore", run_id=restore.pk)
    return sorted(rows.values_list("number", flat=True))


def finish_all(restore) -> None:
    BlockBatch.objects.filter(run_kind="restore", run_id=restore.pk).update(state="done", lease_until=None)


def test_only_the_current_tier_has_batches_and_the_next_starts_when_it_is_done(restore):
    tiers = Staging.of_restore(restore).read_tiers()
    assert [t["label"] for t in tiers] == ["namespaces", "configmaps", "*"]  # empty tiers are not tiers
    # ten configmaps over 2 workers: batches small enough that each lane gets several
    assert [len(t["batches"]) for t in tiers] == [1, 5, 2]
    assert restore_tiers.next_tier(restore.pk) is True
    assert batch_numbers(restore) == [0]
    assert all(b.restore_id == restore.pk for b in BlockBatch.objects.filter(run_kind="restore"))
    jobs = django_rq.get_queue(queues.BLOCKS_QUEUE).job_ids
    assert jobs and all(j.startswith("restore-batch-") for j in jobs)

    batches.maybe_finalize(restore.pk, RESTORE)  # tier 0 still running: nothing moves
    assert batch_numbers(restore) == [0]
    finish_all(restore)
    batches.maybe_finalize(restore.pk, RESTORE)
    assert batch_numbers(restore) == [0, 1, 2, 3, 4, 5]
    restore.refresh_from_db()
    assert restore.current_tier == 1
    assert RestoreTier.objects.get(restore=restore, index=0).finished is not None
    # a second lane finishing at the same moment starts nothing more
    assert restore_tiers.start_tier(restore, 1, tiers[1]) is None
    assert batch_numbers(restore) == [0, 1, 2, 3, 4, 5]

    finish_all(restore)
    batches.maybe_finalize(restore.pk, RESTORE)
    finish_all(restore)
    batches.maybe_finalize(restore.pk, RESTORE)
    restore.refresh_from_db()
    assert restore.current_tier == 2 and restore.phase == Phase.FINALIZING
    assert restore.job_id.startswith("finalize-") and restore.finalize_attempts == 1


def test_a_given_up_batch_makes_its_items_errors_and_the_restore_goes_on(restore):
    restore_tiers.next_tier(restore.pk)
    finish_all(restore)
    batches.maybe_finalize(restore.pk, RESTORE)
    batch = BlockBatch.objects.get(run_kind="restore", run_id=restore.pk, number=1)
    BlockBatch.objects.filter(pk=batch.pk).update(state="running", attempts=3)
    batch.refresh_from_db()
    restore_ops.give_up(batch, "the worker died three times")
    restore.refresh_from_db()
    given_up = len(Staging.of_restore(restore).read_restore_batch(1)[1])
    assert restore.items_failed == restore.errors == given_up
    tier = RestoreTier.objects.get(restore=restore, index=1)
    assert tier.failed == given_up
    messages = list(RestoreLogEntry.objects.filter(restore=restore, level="error"))
    assert len(messages) == given_up and all(m.namespace == "shop" for m in messages)
    assert "not restored after 3 attempts: the worker died three times" in messages[0].message
    assert BlockBatch.objects.get(pk=batch.pk).state == "done"


def test_a_cancelled_restore_ends_once_no_batch_runs(restore):
    restore_tiers.next_tier(restore.pk)
    BlockBatch.objects.filter(run_kind="restore", run_id=restore.pk).update(
        state="running", lease_until=timezone.now() + timezone.timedelta(seconds=60)
    )
    outcome = restore_ops.request_cancel(restore, by="tester")
    assert outcome.changed and "being cancelled" in outcome.message
    assert Restore.objects.get(pk=restore.pk).phase == Phase.CANCELLING
    assert not batches.claim(restore.pk, 0, "w", kind=RESTORE)  # nothing is claimed any more
    finish_all(restore)
    batches.maybe_finalize(restore.pk, RESTORE)
    restore.refresh_from_db()
    assert restore.phase == Phase.CANCELLED and restore.cancelled_by == "tester"
    assert not Staging.of_restore(restore).root.exists()


def test_batch_job_ids_are_kept_apart_by_kind():
    assert queues.batch_job_id(12, 3, 1) == "batch-12-3-1"
    assert queues.batch_job_id(12, 3, 1, kind=RESTORE) == "restore-batch-12-3-1"
    assert BACKUP.ops().batches_done(12) is False


def test_the_watchdog_hands_out_a_tier_whose_batches_nobody_enqueued(restore):
    from backups.runs.watchdog import tick_restores

    restore_tiers.next_tier(restore.pk)
    finish_all(restore)
    tiers = Staging.of_restore(restore).read_tiers()
    restore_tiers.start_tier(restore, 1, tiers[1])  # committed, then the process died
    django_rq.get_queue(queues.BLOCKS_QUEUE).empty()
    tick_restores()
    rows = BlockBatch.objects.filter(run_kind="restore", run_id=restore.pk, number__gte=1)
    assert rows.filter(state="enqueued").exists()
    assert django_rq.get_queue(queues.BLOCKS_QUEUE).job_ids
