"""Nothing restarts a job forever. An exception nobody anticipated ends the backup Failed with its
type and message, after a bounded number of RQ job runs, and the backup queued behind it runs;
a step whose jobs keep dying is given up after jobs.MAX_STEP_ATTEMPTS.

The unanticipated failure is real, not a patched client: a backup row written straight to the
database with `ordered_resources` holding a number where planning expects a list of names (the
forms and the CLI refuse it; a row from elsewhere, an old version or a hand edit, may not).
"""

import time

import django_rq
import pytest

from backups.models import Backup, BlockBatch
from backups.runs import watchdog
from backups.runs.steps import MAX_STEP_ATTEMPTS
from tests.runs.test_faults import assert_exactly_once
from veloweb.devstack import DevStack


@pytest.fixture
def stack(tmp_path, cluster):
    with DevStack(tmp_path, VELOWEB_BATCH_ITEMS="20") as s:
        s.start(workers=2)
        s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
        yield s


def dispatch_runs(stack, name):
    """RQ jobs that ran to dispatch the backup, ended well or not (RQ's registries)."""
    code = (
        "import django_rq; from rq.registry import FailedJobRegistry, FinishedJobRegistry\n"
        "from backups.models import Backup\n"
        f"pk = Backup.objects.get(name={name!r}).pk\n"
        "queue = django_rq.get_queue('default')\n"
        "ids = [i for r in (FinishedJobRegistry, FailedJobRegistry) for i in r(queue=queue).get_job_ids()]\n"
        "print(sum(1 for i in ids if i.startswith(f'dispatch-{pk}-')))"
    )
    return int(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def test_an_unanticipated_exception_in_planning_fails_the_backup_once_and_the_queue_moves_on(stack, cluster):
    code = (
        "from backups.services import backups as backup_services\n"
        "from backups.models import Backup, Cluster\n"
        "sample = Cluster.objects.get(name='sample')\n"
        "Backup.objects.create(name='broken-1', cluster=sample, phase='Queued', queue_position=1,\n"
        "    included_namespaces=['shop'], ordered_resources={'pods': 5},\n"
        "    storage_location=backup_services.default_storage_location())\n"
        "after = backup_services.create_backup('after-1', sample, included_namespaces=['shop'])\n"
        "print(Backup.objects.get(pk=after.pk).phase)"
    )
    assert stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1] == "Queued"
    state = stack.wait_until_done("broken-1", timeout=60)
    assert state["phase"] == "Failed", state
    assert state["reason"] == "planning failed: TypeError: 'int' object is not iterable"
    assert [(level, message) for level, _, _, message in state["log"]] == [("error", state["reason"])]
    # the one that waited behind it runs now
    after = stack.wait_until_done("after-1", timeout=120)
    assert after["phase"] == "Completed", after
    assert_exactly_once(stack, "after-1", after, cluster)
    runs = dispatch_runs(stack, "broken-1")
    assert 1 <= runs <= MAX_STEP_ATTEMPTS
    time.sleep(3)  # six watchdog ticks later: nothing was restarted
    assert dispatch_runs(stack, "broken-1") == runs
    assert stack.backup_state("broken-1")["phase"] == "Failed"
    assert "Phase:        Failed" in stack.manage("backup", "describe", "broken-1").stdout
    assert "Backup broken-1 deleted." in stack.manage("backup", "delete", "broken-1").stdout


@pytest.fixture
def no_admission(settings):
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0  # the watchdog's tick admits nothing here


@pytest.mark.parametrize(
    "phase, counter, step",
    [("ReadyToStart", "attempt", "dispatch"), ("InProgress", "attempt", "dispatch"),
     ("Finalizing", "finalize_attempts", "finalize")],
)  # fmt: skip
def test_a_step_whose_jobs_keep_vanishing_is_given_up_after_the_last_attempt(
    db, cluster_row, no_admission, phase, counter, step
):
    """Each job enqueued for a step counts; the watchdog retries a dead one until the bound."""
    backup = Backup.objects.create(
        name="lost-1",
        cluster=cluster_row,
        phase=phase,
        job_id=f"{step}-1-gone",
        **{counter: MAX_STEP_ATTEMPTS},
    )
    watchdog.tick()
    assert Backup.objects.get(pk=backup.pk).phase == phase  # one look is not enough: a job id is
    time.sleep(1.1)  # stored a moment before its job is enqueued
    watchdog.tick()
    backup.refresh_from_db()
    assert backup.phase == Backup.Phase.FAILED
    assert backup.failure_reason == (
        f"{step} did not finish after {MAX_STEP_ATTEMPTS} attempts; last: its job was lost (Redis restarted?)"
    )


def test_a_dead_step_below_the_bound_is_enqueued_again(db, cluster_row, no_admission):
    backup = Backup.objects.create(
        name="lost-2", cluster=cluster_row, phase="Finalizing", job_id="finalize-gone"
    )
    BlockBatch.objects.create(
        backup=backup, number=0, first_block=0, block_count=1, item_count=1, state="done"
    )
    watchdog.tick()
    time.sleep(1.1)
    watchdog.tick()
    backup.refresh_from_db()
    assert backup.phase == Backup.Phase.FINALIZING and backup.finalize_attempts == 1
    assert backup.job_id.startswith(f"finalize-{backup.pk}-")
    django_rq.get_queue("default").remove(backup.job_id)  # not run here: no worker in this test


@pytest.fixture
def cluster_row(db):
    from backups.models import Cluster

    return Cluster.objects.create(name="sample-row", kubeconfig_path="/nonexistent")
