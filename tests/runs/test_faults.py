"""Faults while a backup runs: killed workers, a restarted pool and Redis, a failing or slow API.

Each scenario runs on a private stack (its own Redis, database, workers and watchdog, with a
3-second batch lease) so killing things never disturbs the other tests. Every backup must end
with each item written exactly once and counts that match the tarball, or with errors naming
exactly what could not be saved; nothing stays InProgress.
"""

import json
import tarfile
import time
from collections import Counter

import pytest

from backups.engine.velero_format.archive import read_archive_items
from tests.runs.test_backup_flow import claim_as_written, snapshots_by_claim
from veloweb.devstack import DevStack


@pytest.fixture
def stack(tmp_path, cluster):
    with DevStack(tmp_path, VELOWEB_BATCH_LEASE_SECONDS="3", VELOWEB_BATCH_ITEMS="20") as s:
        try:
            s.start(workers=2)
            s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
            yield s
        finally:
            cluster.clear_faults()
            cluster.clear_exec_scripts()


def tarball(stack, name):
    return stack.storage() / "backups" / name / f"{name}.tar.gz"


def assert_exactly_once(stack, name, state, cluster):
    with tarfile.open(tarball(stack, name), "r:gz") as tar:
        entries = Counter(tar.getnames())
    assert max(entries.values()) == 1, [e for e, n in entries.items() if n > 1]
    objects = dict(read_archive_items(str(tarball(stack, name)), each_object_once=True))
    assert state["done"] == len(objects) == state["total"], state
    assert state["blocks_done"] == state["blocks"]
    snapshots = snapshots_by_claim(objects)
    for entry, obj in objects.items():
        parts = entry.split("/")
        namespace = parts[3] if parts[2] == "namespaces" else None
        expected = cluster.get(parts[1], namespace, parts[-1][: -len(".json")])
        if obj["kind"] == "PersistentVolumeClaim":  # as Velero's PVC actions write it
            expected = claim_as_written(expected, snapshots.get((namespace, obj["metadata"]["name"])), name)
        assert expected == obj, entry
    return entries


def wait_for_exec(cluster, pod, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e["pod"] == pod and text in " ".join(e["command"]) for e in cluster.exec_log):
            return
        time.sleep(0.05)
    raise AssertionError(f"no exec of {text!r} in {pod}")


def freezes(cluster):
    return [e for e in cluster.exec_log if e["pod"] == "db-0" and "--freeze" in " ".join(e["command"])]


def test_a_worker_killed_in_the_middle_of_a_block_is_replaced_and_nothing_is_lost(stack, cluster):
    cluster.exec_log.clear()
    cluster.script_exec("shop", "db-0", delay=3.0, match="--freeze")
    stack.manage("backup", "create", "killed", "--workers", "2")
    wait_for_exec(cluster, "db-0", "--freeze")
    assert stack.kill_horses() >= 1
    state = stack.wait_until_done("killed", timeout=120)
    assert state["phase"] == "Completed", json.dumps(state, indent=1)
    assert_exactly_once(stack, "killed", state, cluster)
    assert len(freezes(cluster)) >= 2  # the block ran again from its start, pre-hooks included
    assert any(e["stopped_early"] for e in freezes(cluster))


def test_a_restarted_worker_pool_and_redis_resume_the_backup(stack, cluster):
    cluster.script_exec("shop", "db-0", delay=2.0, match="--freeze")
    stack.manage("backup", "create", "restarted", "--workers", "2")
    wait_for_exec(cluster, "db-0", "--freeze")
    stack.kill_workers()
    stack.redis.stop()  # every queued job is gone with it
    time.sleep(1)
    stack.start_redis()
    stack.start_workers(2)
    state = stack.wait_until_done("restarted", timeout=120)
    assert state["phase"] == "Completed", json.dumps(state, indent=1)
    assert_exactly_once(stack, "restarted", state, cluster)


def test_a_failing_list_is_an_error_naming_what_was_not_saved(stack, cluster):
    cluster.fail(500, resource="configmaps", namespace="payments", verb="list")
    stack.manage("backup", "create", "api-errors", "--include-namespaces", "shop,payments")
    state = stack.wait_until_done("api-errors", timeout=120)
    assert state["phase"] == "PartiallyFailed", state
    errors = [e for e in state["log"] if e[0] == "error"]
    assert [(e[1], e[2]) for e in errors] == [("configmaps", "payments")], errors
    entries = assert_exactly_once(stack, "api-errors", state, cluster)
    assert not any("configmaps/namespaces/payments/" in e for e in entries)
    assert any("configmaps/namespaces/shop/" in e for e in entries)


def test_a_slow_api_server_only_makes_the_backup_slower(stack, cluster):
    cluster.set_latency(0.05)
    stack.manage("backup", "create", "slow", "--include-namespaces", "shop")
    state = stack.wait_until_done("slow", timeout=120)
    assert state["phase"] == "Completed", state
    assert_exactly_once(stack, "slow", state, cluster)
