"""Cancelling a backup through real RQ workers against the emulated sample cluster (spec part 1,
item 11): blocks not started never start, a block whose pre-hooks ran still runs its post-hooks
(the frozen database is thawed), what was written is removed, nothing is uploaded, the backup
ends Cancelled and the backup queued behind it starts at once. A delete of a running backup
cancels it first and deletes it when the cancel took effect.

The shop's database block holds db-0, db-1 and db-2, each with an fsfreeze pre- and post-hook;
db-2's freeze is made slow, so the block sits in its pre-hooks, db-0 and db-1 frozen, when the
cancel comes. The stack is private to this module (its own Redis, database, workers, watchdog).
"""

import json
import time

import pytest

from tests.runs.test_faults import wait_for_exec
from veloweb.devstack import DevStack

FREEZE_DELAY = 10.0
DB_PODS = ("db-0", "db-1", "db-2")


@pytest.fixture(scope="module")
def stack(tmp_path_factory, cluster):
    with DevStack(tmp_path_factory.mktemp("cancel"), VELOWEB_BATCH_ITEMS="20") as s:
        s.start(workers=2)
        s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
        yield s


@pytest.fixture
def slow_freeze(cluster):
    cluster.exec_log.clear()
    cluster.script_exec("shop", "db-2", delay=FREEZE_DELAY, match="--freeze")
    yield
    cluster.clear_exec_scripts()


def facts(stack, name):
    """The backup's row, its blocks, hook runs and log, and whether its staging folder exists."""
    code = (
        "import json; from pathlib import Path; from django.conf import settings\n"
        "from backups.models import Backup, BlockRun, HookRun\n"
        f"b = Backup.objects.filter(name={name!r}).first()\n"
        "print(json.dumps(None if b is None else dict(\n"
        "  phase=b.phase, items=b.items_backed_up, cancelled_by=b.cancelled_by, pk=b.pk,\n"
        "  blocks=list(BlockRun.objects.filter(backup=b).values_list('state', 'started')),\n"
        "  hooks=sorted(HookRun.objects.filter(backup=b).values_list('phase', 'pod', 'exit_code')),\n"
        "  staging=(Path(settings.VELOWEB_STAGING_DIR) / f'{b.name}-{b.pk}').exists()), default=str))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def create(stack, *backups, cancel=None):
    """Create backups of the sample cluster in one go (a `manage.py` call takes seconds on a busy
    machine), then cancel `cancel` at once; their phases right after."""
    code = (
        "import json; from backups.runs import cancel\n"
        "from backups.services import backups as backup_services\n"
        "from backups.models import Backup, Cluster\n"
        "sample = Cluster.objects.get(name='sample')\n"
        f"made = [backup_services.create_backup(n, sample, **f) for n, f in {backups!r}]\n"
        f"cancelled = [cancel.request_cancel(b) for b in made if b.name == {cancel!r}]\n"
        "assert all(c.message.endswith('cancelled before it started.') for c in cancelled), cancelled\n"
        "print(json.dumps([Backup.objects.get(pk=b.pk).phase for b in made]))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def wait_gone(stack, name, timeout=60):
    deadline = time.monotonic() + timeout
    while facts(stack, name) is not None:
        assert time.monotonic() < deadline, f"backup {name} still exists after {timeout}s"
        time.sleep(0.5)


def execs(cluster, pod, text):
    return [e for e in cluster.exec_log if e["pod"] == pod and text in " ".join(e["command"])]


def assert_thawed(cluster):
    """Every db pod frozen was thawed, after the last freeze finished."""
    last_freeze = max(e["finished"] for pod in DB_PODS for e in execs(cluster, pod, "--freeze"))
    for pod in DB_PODS:
        (freeze,) = execs(cluster, pod, "--freeze")
        (thaw,) = execs(cluster, pod, "--unfreeze")
        assert freeze["exit_code"] == thaw["exit_code"] == 0
        assert thaw["started"] >= last_freeze


def test_a_running_backup_is_cancelled_its_frozen_pods_thawed_and_the_queue_moves_on(
    stack, cluster, slow_freeze
):
    phases = create(
        stack,
        ("frozen-1", dict(included_namespaces=["shop"], workers=1)),
        # overlaps frozen-1 (shop), so it queues; only config maps: no hook of its own in the exec log
        ("waiting-1", dict(included_namespaces=["shop"], included_resources=["configmaps"])),
        ("waiting-2", dict(included_namespaces=["shop"])),
        cancel="waiting-2",  # while queued: cancelled at once, nothing of it ever ran
    )
    assert phases[0] in ("ReadyToStart", "InProgress") and phases[1:] == ["Queued", "Cancelled"]
    wait_for_exec(cluster, "db-2", "--freeze")  # db-0 and db-1 are frozen, db-2 is freezing
    out = stack.manage("backup", "cancel", "frozen-1").stdout
    assert "Backup frozen-1 is being cancelled" in out, out

    state = stack.wait_until_done("frozen-1", timeout=60)
    assert state["phase"] == "Cancelled", state
    cancelled = facts(stack, "frozen-1")
    assert_thawed(cluster)
    # the db block wrote nothing after its pre-hooks; every other block never started
    assert cancelled["items"] == 0
    assert {state for state, _ in cancelled["blocks"]} == {"cancelled"}
    assert sum(1 for _, started in cancelled["blocks"] if started) == 1
    assert cancelled["hooks"] == sorted([["pre", p, 0] for p in DB_PODS] + [["post", p, 0] for p in DB_PODS])
    assert not cancelled["staging"]
    assert not (stack.storage() / "backups" / "frozen-1").exists()  # nothing uploaded
    assert cancelled["cancelled_by"].endswith("(CLI)")

    # the backup queued behind it was admitted at once and runs to the end; the cancelled one stays so
    assert stack.wait_until_done("waiting-1", timeout=120)["phase"] == "Completed"
    assert facts(stack, "waiting-2")["phase"] == "Cancelled"
    again = stack.manage("backup", "cancel", "frozen-1")
    assert again.returncode == 0 and "Backup frozen-1 is already cancelled." in again.stdout
    done = stack.manage("backup", "cancel", "waiting-1")
    assert done.returncode == 0 and "already Completed: nothing to cancel" in done.stdout
    listing = stack.manage("backup", "list").stdout
    assert any(line.split()[:2] == ["frozen-1", "Cancelled"] for line in listing.splitlines()), listing
    assert "Phase:        Cancelled" in stack.manage("backup", "describe", "frozen-1").stdout


def test_deleting_a_running_backup_cancels_it_then_deletes_it(stack, cluster, slow_freeze):
    create(stack, ("doomed-1", dict(included_namespaces=["shop"], workers=1)))
    wait_for_exec(cluster, "db-2", "--freeze")
    pk = facts(stack, "doomed-1")["pk"]
    out = stack.manage("backup", "delete", "doomed-1").stdout
    assert "Backup doomed-1 is being cancelled; it will be deleted once its running blocks" in out, out
    wait_gone(stack, "doomed-1")  # nobody came back: the cancel, once done, deleted it
    assert_thawed(cluster)
    assert not (stack.storage().parent / "staging" / f"doomed-1-{pk}").exists()
    assert not (stack.storage() / "backups" / "doomed-1").exists()


def test_cancel_during_planning_stops_the_dispatcher(stack, cluster):
    """Listing the cluster takes seconds here (0.2 s per API request): the cancel comes meanwhile."""
    cluster.set_latency(0.2)
    try:
        stack.manage("backup", "create", "planning-1", "--workers", "2")
        deadline = time.monotonic() + 30
        while stack.backup_state("planning-1")["phase"] != "InProgress":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        stack.manage("backup", "cancel", "planning-1")
        started = time.monotonic()
        state = stack.wait_until_done("planning-1", timeout=60)
        took = time.monotonic() - started
    finally:
        cluster.clear_faults()
    assert state["phase"] == "Cancelled", state
    assert state["blocks"] == 0 and state["done"] == 0  # it never finished planning
    assert took < 10
