"""Schedules end to end: the schedule tick as a job on the real RQ queue, run by real workers, creates
a backup of the emulated cluster that completes; a tick while that run is unfinished creates
nothing; and a real `manage.py run_cron` (RQ's CronScheduler) fires a schedule on its own."""

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import django_rq
import pytest
from rq.job import JobStatus

from backups.services.schedules import fire_due
from tests.conftest import REPO
from veloweb.processes import spawn, stop

pytestmark = pytest.mark.usefixtures("rq_workers")

DONE = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")


def shell(manage, code: str) -> str:
    return manage("shell", "-c", code).stdout.strip().splitlines()[-1]


def backups_of(manage, definition: str) -> list[dict]:
    code = (
        "import json; from backups.models import Backup; "
        f"print(json.dumps(list(Backup.objects.filter(schedule_name={definition!r}).order_by('id')"
        ".values('name', 'phase', 'definition__name'))))"
    )
    return json.loads(shell(manage, code))


def wait_for_phase(manage, name: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    code = f"from backups.models import Backup; print(Backup.objects.get(name={name!r}).phase)"
    while (phase := shell(manage, code)) not in DONE:
        assert time.monotonic() < deadline, f"{name} still {phase} after {timeout}s"
        time.sleep(0.5)
    return phase


def tick(*clocks: datetime, mine: str, timeout: float = 60) -> list[list[str]]:
    """Enqueue fire_due at the given clocks together (workers may run them at once); the runs each
    created of schedule `mine` (the stack is shared: other tests' schedules may be due too)."""
    queue = django_rq.get_queue("default")
    jobs = [queue.enqueue(fire_due, now=now) for now in clocks]
    deadline = time.monotonic() + timeout
    for job in jobs:
        while (status := job.get_status()) != JobStatus.FINISHED:
            assert status != JobStatus.FAILED, job.latest_result().exc_string
            assert time.monotonic() < deadline, f"fire_due job still {status}"
            time.sleep(0.1)
    return [[n for n in job.return_value() if n.startswith(f"{mine}-")] for job in jobs]


@pytest.fixture
def paused_afterwards(manage):
    """Pause the schedules a test names once it ends: no active schedule is left in the shared stack."""
    names = []
    yield names.append
    shell(
        manage,
        f"from backups.models import BackupDefinition as D; D.objects.filter(name__in={names!r})"
        ".update(paused=True)",
    )


def test_a_due_tick_run_by_a_worker_backs_up_and_a_busy_schedule_waits(
    manage, registered, stack_env, paused_afterwards
):
    """The clock is in 2099, so no real-time tick ever finds this schedule due. The first run is held
    in Queued by an unfinished backup of the whole cluster (Velero runs overlapping backups one at
    a time), so the second tick deterministically finds it unfinished."""
    name, blocker = f"{registered[:30]}-s", f"{registered[:30]}-blocker"
    paused_afterwards(name)
    shell(
        manage,
        "from datetime import datetime, UTC; from backups.models import Backup, BackupDefinition, Cluster; "
        f"cluster = Cluster.objects.get(name={registered!r}); "
        f"BackupDefinition.objects.create(name={name!r}, cluster=cluster, schedule='0 3 * * *', "
        "included_namespaces=['shop'], schedule_since=datetime(2099, 1, 1, tzinfo=UTC)); "
        f"print(Backup.objects.create(name={blocker!r}, cluster=cluster, phase='InProgress').pk)",
    )

    assert tick(datetime(2099, 1, 1, 3, tzinfo=UTC), mine=name) == [[]]
    same_time = datetime(2099, 1, 1, 3, 0, 30, tzinfo=UTC)
    results = tick(same_time, same_time, mine=name)  # two schedulers' ticks at once
    first = f"{name}-20990101030030"
    assert sorted(results) == [[], [first]]
    assert backups_of(manage, name) == [{"name": first, "phase": "Queued", "definition__name": name}]

    # due, but the first run is unfinished
    assert tick(datetime(2099, 1, 2, 3, 0, 30, tzinfo=UTC), mine=name) == [[]]
    assert [b["name"] for b in backups_of(manage, name)] == [first]

    shell(
        manage,
        "from backups.services import backups as backup_services; from backups.models import Backup; "
        f"Backup.objects.filter(name={blocker!r}).update(phase='Failed'); print(backup_services.admit())",
    )
    assert wait_for_phase(manage, first) == "Completed"
    storage = Path(stack_env["VELOWEB_DATA_DIR"]) / "storage" / "backups" / first
    assert (storage / "velero-backup.json").is_file() and (storage / f"{first}.tar.gz").is_file()

    second = f"{name}-20990102030130"
    assert tick(datetime(2099, 1, 2, 3, 1, 30, tzinfo=UTC), mine=name) == [[second]]
    assert wait_for_phase(manage, second) == "Completed"
    assert [b["name"] for b in backups_of(manage, name)] == [first, second]


def test_run_cron_fires_a_schedule_that_is_due(manage, registered, stack_env, tmp_path, paused_afterwards):
    name = f"{registered[:30]}-c"
    paused_afterwards(name)
    shell(
        manage,
        "from datetime import timedelta; from django.utils import timezone; "
        "from backups.models import BackupDefinition, Cluster; "
        f"BackupDefinition.objects.create(name={name!r}, cluster=Cluster.objects.get(name={registered!r}), "
        "schedule='* * * * *', included_namespaces=['shop'], "
        "schedule_since=timezone.now() - timedelta(hours=1))",
    )
    log = tmp_path / "cron.log"
    started = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    cron = spawn(
        [sys.executable, "manage.py", "run_cron"],
        env={**stack_env, "VELOWEB_SCHEDULE_INTERVAL": "1"},
        cwd=REPO,
        log=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not (runs := backups_of(manage, name)):
            assert cron.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no run of {name} yet:\n{log.read_text()}"
            time.sleep(0.5)
    finally:
        stop(cron)
    fired = datetime.strptime(runs[0]["name"].removeprefix(f"{name}-"), "%Y%m%d%H%M%S")
    assert fired >= started  # named for the (UTC) time it fired, not for the past schedule_since
    assert wait_for_phase(manage, runs[0]["name"]) == "Completed"
    registered = "Registered 'backups.services.schedules.fire_due' to run on default every 1 seconds"
    assert registered in log.read_text()
