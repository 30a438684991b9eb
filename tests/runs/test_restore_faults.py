"""A worker killed in the middle of a restore, on a private stack (its own Redis, database,
workers and watchdog, a 3-second batch lease): the watchdog hands its batch out again, the items
the dead attempt already created are found identical and skipped without a warning, and the
restore completes with every object restored once."""

import json
import time

import pytest

from emulator import KubeEmulator
from veloweb.devstack import DevStack

TERMINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation", "Cancelled")


@pytest.fixture
def stack(tmp_path, cluster):
    with DevStack(tmp_path, VELOWEB_BATCH_LEASE_SECONDS="3", VELOWEB_BATCH_ITEMS="20") as s:
        s.start(workers=2)
        s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
        yield s


def restore_state(stack, name: str) -> dict:
    code = (
        "import json; from backups.models import Restore; "
        f"r = Restore.objects.get(name={name!r}); "
        "print(json.dumps(dict(phase=r.phase, total=r.total_items, restored=r.items_restored, "
        "skipped=r.items_skipped, failed=r.items_failed, errors=r.errors, warnings=r.warnings, "
        "reason=r.failure_reason, "
        "log=[(e.level, e.namespace, e.message) for e in r.log_entries.all()[:20]])))"
    )
    return json.loads(stack.manage("shell", "-c", code).stdout.strip().splitlines()[-1])


def test_a_worker_killed_mid_restore_is_replaced_and_the_restore_completes(stack, tmp_path):
    stack.manage("backup", "create", "src", "--cluster", "sample", "--wait", "--timeout", "180")
    with KubeEmulator([]) as target:
        target.set_latency(0.15)  # each write a while: the kill lands in the middle of a batch
        stack.manage("cluster", "add", "empty", "--kubeconfig", target.write_kubeconfig(str(tmp_path / "kc")))
        stack.manage("restore", "create", "r-killed", "--from-backup", "src", "--cluster", "empty",
                     "--workers", "2")  # fmt: skip
        deadline = time.monotonic() + 120
        while restore_state(stack, "r-killed")["restored"] < 3:
            assert time.monotonic() < deadline, restore_state(stack, "r-killed")
            time.sleep(0.2)
        assert stack.kill_horses() >= 1
        target.set_latency(0)
        deadline = time.monotonic() + 180
        while (state := restore_state(stack, "r-killed"))["phase"] not in TERMINAL:
            assert time.monotonic() < deadline, state
            time.sleep(0.5)
        assert state["phase"] == "Completed", json.dumps(state, indent=1)
        assert state["restored"] + state["skipped"] == state["total"] and state["failed"] == 0
        assert state["errors"] == 0
        # every item once in the target (the emulator provisions the claims' volumes itself): the
        # dead attempt's creations were found again on the retry, not failed nor doubled
        restored = [o for o in target.objects() if o["kind"] != "PersistentVolume"]
        assert len(restored) == state["total"]
        assert not [line for line in state["log"] if line[0] == "warning" and "already exists" in line[2]]
