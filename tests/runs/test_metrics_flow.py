"""`/metrics` over HTTP after real backups of each outcome, run by two worker processes: the
Prometheus text parser reads Velero's counters, labels, gauges and histogram buckets as the rows
say, and a restarted web process reads the same."""

import json
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from veloweb.devstack import DevStack
from veloweb.processes import free_port, stop

TOKEN = "flow-scrape-token"

# Every outcome a run can have, each through the services and the real workers.
RUN_BACKUPS = """
import json
from backups.models import Backup, BlockBatch, Cluster
from backups.runs.steps import wait_for
from backups.runs.watchdog import tick
from backups.services import backups as svc

sample = Cluster.objects.get(name="sample")
dead = Cluster.objects.create(name="dead", kubeconfig_path={dead!r})
made = [
    svc.create_backup("ok-1", sample, schedule_name="nightly", workers=4),
    svc.create_backup("partial-1", sample, included_namespaces=["shop", "payments"], schedule_name="nightly"),
    svc.create_backup("failed-1", dead),
    svc.create_backup("invalid-1", sample, ttl="forever"),
]
ended = [wait_for(b.pk, 180, tick=tick) for b in made]
ok = ended[0]
print(json.dumps({{
    "phases": {{b.name: b.phase for b in ended}},
    "workers": sorted(set(BlockBatch.objects.filter(backup=ok).values_list("worker", flat=True))),
    "ok": {{"items": ok.total_items, "size": ok.size_bytes, "errors": ok.errors,
            "snapshots": [ok.snapshots_attempted, ok.snapshots_completed]}},
    "partial": {{"items": ended[1].total_items, "errors": ended[1].errors}},
}}))
"""


@pytest.fixture
def stack(tmp_path, cluster):
    with DevStack(tmp_path, VELOWEB_METRICS_TOKEN=TOKEN, VELOWEB_BATCH_ITEMS="5") as s:
        try:
            s.start(workers=2)
            s.manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
            yield s
        finally:
            cluster.clear_faults()


def scrape(url: str) -> dict:
    request = urllib.request.Request(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def dead_kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "dead-kubeconfig"
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "dead", "cluster": {"server": server}}],
                "users": [{"name": "dead", "user": {"token": "x"}}],
                "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
                "current-context": "dead",
            }
        )
    )
    return str(path)


def test_metrics_after_backups_of_each_outcome_across_two_workers(stack, cluster, tmp_path):
    cluster.fail(500, resource="configmaps", namespace="payments", verb="list")
    result = stack.manage("shell", "-c", RUN_BACKUPS.format(dead=dead_kubeconfig(tmp_path)))
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    assert runs["phases"] == {
        "ok-1": "Completed",
        "partial-1": "PartiallyFailed",
        "failed-1": "Failed",
        "invalid-1": "FailedValidation",
    }, result.stdout + result.stderr
    # ok-1's batches were run by two jobs at once (host:pid of each work horse, /lane), one per worker
    assert len({worker.split("/")[0] for worker in runs["workers"]}) >= 2, runs["workers"]

    url = stack.start_web()
    samples = scrape(url)
    assert value(samples, "velero_backup_total") == 4
    expected = {
        ("attempt", "nightly"): 2, ("attempt", ""): 1,
        ("success", "nightly"): 1, ("success", ""): 0,
        ("partial_failure", "nightly"): 1, ("partial_failure", ""): 0,
        ("failure", ""): 1, ("failure", "nightly"): 0,
        ("validation_failure", ""): 1, ("validation_failure", "nightly"): 0,
    }  # fmt: skip
    for (what, schedule), count in expected.items():
        assert value(samples, f"velero_backup_{what}_total", schedule=schedule) == count, (what, schedule)
    # the runs took seconds: every observation is in the first bucket
    hist = "velero_backup_duration_seconds"
    assert value(samples, f"{hist}_bucket", schedule="nightly", le="60.0") == 2
    assert value(samples, f"{hist}_bucket", schedule="nightly", le="+Inf") == 2
    assert value(samples, f"{hist}_count", schedule="nightly") == 2
    assert value(samples, f"{hist}_bucket", schedule="", le="14400.0") == 1  # failed-1; invalid-1 never ran
    # per-schedule gauges from the latest backup: partial-1 ended after ok-1
    assert value(samples, "velero_backup_last_status", schedule="nightly") == 0
    assert value(samples, "velero_backup_last_status", schedule="") == 0
    assert value(samples, "velero_backup_items_total", schedule="nightly") == runs["partial"]["items"]
    assert value(samples, "velero_backup_items_errors", schedule="nightly") == runs["partial"]["errors"] > 0
    assert value(samples, "velero_backup_last_successful_timestamp", schedule="nightly") > 0
    tarball = stack.storage() / "backups" / "partial-1" / "partial-1.tar.gz"
    assert value(samples, "velero_backup_tarball_size_bytes", schedule="nightly") == tarball.stat().st_size
    attempted, completed = runs["ok"]["snapshots"]
    assert attempted > 0
    assert (
        value(samples, "velero_csi_snapshot_attempt_total", schedule="nightly", backupName="ok-1")
        == attempted
    )
    assert (
        value(samples, "velero_csi_snapshot_success_total", schedule="nightly", backupName="ok-1")
        == completed
    )
    assert value(samples, "velero_backup_location_status_gauge", backup_location_name="default") == 1
    # Veloweb's own: every block of the three runs that planned blocks ran, none runs now
    assert value(samples, "veloweb_block_duration_seconds_count") > 0
    assert value(samples, "veloweb_running_blocks") == 0
    assert value(samples, "veloweb_lanes_busy") == 0
    assert value(samples, "veloweb_queue_depth", queue="blocks") == 0

    # another web process after a restart reads the same counters from the database
    stop(stack.web)
    again = scrape(stack.start_web())
    counters = [key for key in samples if key[0].startswith("velero_") and "_bucket" not in key[0]]
    assert [again[key] for key in counters] == [samples[key] for key in counters]
