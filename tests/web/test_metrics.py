"""`/metrics`: closed by default, opened by a bearer token or an allow-list, and Velero's metric
names, types, labels and buckets computed from stored rows (counters survive deletions)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backups.models import Backup, BackupDefinition, BlockRun, HookRun, OwedPostHooks, StorageLocation
from backups.services import backups as backup_services

Phase = Backup.Phase
TOKEN = "scrape-secret-123"


@pytest.fixture
def open_metrics(settings):
    settings.VELOWEB_METRICS_TOKEN = TOKEN
    settings.VELOWEB_METRICS_ALLOW = []


def scrape(client) -> dict:
    """{family name: family} of a scrape with the token."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def sample(families, family, name=None, **labels) -> float:
    found = [
        s.value
        for s in families[family].samples
        if s.name == (name or family) and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (family, name, labels, families[family].samples)
    return found[0]


def test_metrics_are_closed_until_a_token_or_an_address_opens_them(client, settings, db):
    settings.VELOWEB_METRICS_TOKEN, settings.VELOWEB_METRICS_ALLOW = "", []
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"VELOWEB_METRICS_TOKEN" in response.content and b"VELOWEB_METRICS_ALLOW" in response.content

    settings.VELOWEB_METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200

    settings.VELOWEB_METRICS_TOKEN, settings.VELOWEB_METRICS_ALLOW = "", ["10.0.0.0/8"]
    refused = client.get("/metrics")  # the test client's address is 127.0.0.1
    assert refused.status_code == 403 and b"127.0.0.1" in refused.content
    settings.VELOWEB_METRICS_ALLOW = ["10.0.0.0/8", "127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403


def test_an_empty_install_has_velero_s_initial_series(client, open_metrics, db):
    families = scrape(client)
    assert sample(families, "velero_backup_total") == 0
    assert families["velero_backup_attempt"].type == "counter"
    assert sample(families, "velero_backup_attempt", "velero_backup_attempt_total", schedule="") == 0
    assert sample(families, "velero_backup_last_status", schedule="") == 1
    assert families["velero_backup_duration_seconds"].type == "histogram"
    buckets = [
        s.labels["le"]
        for s in families["velero_backup_duration_seconds"].samples
        if s.name.endswith("_bucket")
    ]
    assert buckets == [
        "60.0",
        "300.0",
        "600.0",
        "900.0",
        "1800.0",
        "3600.0",
        "7200.0",
        "10800.0",
        "14400.0",
        "+Inf",
    ]
    for name in (
        "veloweb_queue_depth",
        "veloweb_running_blocks",
        "veloweb_lanes_busy",
        "veloweb_longest_freeze_seconds",
    ):
        assert families[name].type == "gauge", name


def ended(make_backup, name, phase, seconds, schedule="", **fields):
    started = timezone.now() - timedelta(hours=1)
    return make_backup(
        name,
        phase=phase,
        schedule_name=schedule,
        attempt=1,
        started=started,
        completed=started + timedelta(seconds=seconds),
        **fields,
    )


def test_counts_labels_gauges_and_buckets_come_from_the_rows(client, open_metrics, make_backup, cluster):
    BackupDefinition.objects.create(name="nightly", cluster=cluster, schedule="0 3 * * *")
    BackupDefinition.objects.create(name="hourly", cluster=cluster, schedule="@every 1h")
    ended(make_backup, "n-1", Phase.COMPLETED, 59.9, "nightly", size_bytes=1000, total_items=10)
    ended(
        make_backup, "n-2", Phase.PARTIALLY_FAILED, 61, "nightly", size_bytes=2000, total_items=20, errors=2
    )
    ended(make_backup, "m-1", Phase.FAILED, 400, warnings=3)
    ended(make_backup, "m-2", Phase.COMPLETED, 30, snapshots_attempted=3, snapshots_completed=2)
    make_backup("m-3", phase=Phase.FAILED_VALIDATION, validation_errors=["bad ttl"])
    make_backup("m-4", phase=Phase.CANCELLED)  # cancelled in the queue: never attempted
    make_backup("imp", phase=Phase.COMPLETED, imported=True, size_bytes=5)
    StorageLocation.objects.create(name="up", path="/tmp/up", available=True)
    StorageLocation.objects.create(name="down", path="/tmp/down", available=False)
    StorageLocation.objects.create(name="unchecked", path="/tmp/x")

    families = scrape(client)
    assert sample(families, "velero_backup_total") == 7
    counter = "velero_backup_{}", "velero_backup_{}_total"
    expected = {
        ("attempt", "nightly"): 2, ("attempt", ""): 2, ("attempt", "hourly"): 0,
        ("success", "nightly"): 1, ("success", ""): 1,
        ("partial_failure", "nightly"): 1, ("partial_failure", ""): 0,
        ("failure", ""): 1, ("validation_failure", ""): 1, ("validation_failure", "nightly"): 0,
        ("warning", ""): 1, ("warning", "nightly"): 0,
    }  # fmt: skip
    for (what, schedule), value in expected.items():
        family, name = (c.format(what) for c in counter)
        assert sample(families, family, name, schedule=schedule) == value, (what, schedule)
    # whole seconds, as Velero observes them: 59.9 and 61 fall either side of the 60 s bucket
    hist = "velero_backup_duration_seconds"
    assert sample(families, hist, f"{hist}_bucket", schedule="nightly", le="60.0") == 1
    assert sample(families, hist, f"{hist}_bucket", schedule="nightly", le="300.0") == 2
    assert sample(families, hist, f"{hist}_bucket", schedule="", le="300.0") == 1
    assert sample(families, hist, f"{hist}_bucket", schedule="", le="600.0") == 2
    assert sample(families, hist, f"{hist}_count", schedule="") == 2
    assert sample(families, hist, f"{hist}_sum", schedule="nightly") == pytest.approx(120.9)
    # gauges from the schedule's latest backup
    assert sample(families, "velero_backup_tarball_size_bytes", schedule="nightly") == 2000
    assert sample(families, "velero_backup_items_total", schedule="nightly") == 20
    assert sample(families, "velero_backup_items_errors", schedule="nightly") == 2
    assert sample(families, "velero_backup_last_status", schedule="nightly") == 0
    assert sample(families, "velero_backup_last_status", schedule="hourly") == 1
    assert sample(families, "velero_backup_last_status", schedule="") == 0  # m-3 failed validation last
    n1 = Backup.objects.get(name="n-1")
    assert sample(families, "velero_backup_last_successful_timestamp", schedule="nightly") == pytest.approx(
        n1.completed.timestamp()
    )
    assert sample(families, "velero_schedule_expected_interval_seconds", schedule="nightly") == 86400
    assert sample(families, "velero_schedule_expected_interval_seconds", schedule="hourly") == 3600
    csi = "velero_csi_snapshot_{}", "velero_csi_snapshot_{}_total"
    for what, value in (("attempt", 3), ("success", 2), ("failure", 1)):
        family, name = (c.format(what) for c in csi)
        assert sample(families, family, name, schedule="", backupName="m-2") == value
        assert sample(families, family, name, schedule="nightly", backupName="") == 0
    location = "velero_backup_location_status_gauge"
    assert sample(families, location, backup_location_name="up") == 1
    assert sample(families, location, backup_location_name="down") == 0
    assert not [s for s in families[location].samples if s.labels["backup_location_name"] == "unchecked"]


def test_counters_keep_what_deleted_backups_counted(client, open_metrics, make_backup, tmp_path):
    location = StorageLocation.objects.create(name="here", path=str(tmp_path))
    location.store().check(create=True)
    backup = ended(make_backup, "n-1", Phase.COMPLETED, 10, "nightly", storage_location=location)
    BlockRun.objects.create(
        backup=backup, index=0, batch=0, item_count=1, first_item="x", state="done",
        started=backup.started, finished=backup.started + timedelta(seconds=0.3),
    )  # fmt: skip
    HookRun.objects.create(backup=backup, block_index=0, phase="pre", namespace="a", pod="b", duration=0.07)
    before = scrape(client)
    assert backup_services.delete_backup(backup) is None
    after = scrape(client)
    assert sample(after, "velero_backup_total") == 0
    for family in ("velero_backup_attempt", "velero_backup_success"):
        assert sample(after, family, f"{family}_total", schedule="nightly") == 1
    hist = "velero_backup_duration_seconds"
    assert sample(after, hist, f"{hist}_bucket", schedule="nightly", le="60.0") == 1
    deletion = "velero_backup_deletion_{}", "velero_backup_deletion_{}_total"
    for what, value in (("attempt", 1), ("success", 1), ("failure", 0)):
        family, name = (c.format(what) for c in deletion)
        assert sample(before, family, name, schedule="nightly") == 0
        assert sample(after, family, name, schedule="nightly") == value
    for name, le in (("veloweb_block_duration_seconds", "0.5"), ("veloweb_hook_duration_seconds", "0.1")):
        assert sample(before, name, f"{name}_bucket", le=le) == 1
        assert sample(after, name, f"{name}_bucket", le=le) == 1
        assert sample(after, name, f"{name}_count") == 1


def test_a_deletion_that_fails_is_counted_as_a_failure(client, open_metrics, make_backup, tmp_path):
    location = StorageLocation.objects.create(name="gone", path=str(tmp_path / "missing"))
    backup = ended(make_backup, "d-1", Phase.COMPLETED, 10, storage_location=location)
    (tmp_path / "missing").write_text("a file where the folder should be")
    with pytest.raises(Exception):  # noqa: B017 - whichever StorageError the store raises
        backup_services.delete_backup(backup)
    families = scrape(client)
    assert Backup.objects.filter(pk=backup.pk).exists()
    assert (
        sample(
            families, "velero_backup_deletion_failure", "velero_backup_deletion_failure_total", schedule=""
        )
        == 1
    )
    assert (
        sample(
            families, "velero_backup_deletion_success", "velero_backup_deletion_success_total", schedule=""
        )
        == 0
    )


def test_veloweb_figures(client, open_metrics, make_backup):
    backup = make_backup("r-1", phase=Phase.IN_PROGRESS, attempt=1, started=timezone.now())
    BlockRun.objects.create(backup=backup, index=0, batch=0, item_count=1, first_item="x", state="items")
    BlockRun.objects.create(backup=backup, index=1, batch=0, item_count=1, first_item="y", state="queued")
    OwedPostHooks.objects.create(
        backup=backup, block_index=0, batch=0, job_id="j", worker="w",
        created=timezone.now() - timedelta(seconds=42),
    )  # fmt: skip
    from backups.models import Restore

    source = make_backup("src-r", phase=Phase.COMPLETED)
    restore = Restore.objects.create(
        name="rs-1", backup=source, backup_name=source.name, cluster=source.cluster, phase="InProgress"
    )
    BlockRun.objects.create(
        run_kind="restore", run_id=restore.pk, restore=restore, index=0, batch=0, item_count=1,
        first_item="configmaps shop/a", state="items",
    )  # fmt: skip
    families = scrape(client)
    assert sample(families, "veloweb_running_blocks") == 2  # a backup's block and a restore's
    assert sample(families, "veloweb_longest_freeze_seconds") == pytest.approx(42, abs=5)
    assert sample(families, "veloweb_backups", phase="InProgress") == 1
    assert sample(families, "veloweb_queue_depth", queue="blocks") >= 0


def test_ended_backups_are_folded_into_the_tally_once(client, open_metrics, make_backup, tmp_path):
    """A scrape moves an ended backup's block and hook counts into the tally (later scrapes read
    only running backups' rows); deleting it afterwards does not count them twice."""
    location = StorageLocation.objects.create(name="here", path=str(tmp_path))
    location.store().check(create=True)
    done = ended(make_backup, "f-1", Phase.COMPLETED, 5, storage_location=location)
    running = make_backup("f-2", phase=Phase.IN_PROGRESS, attempt=1, started=timezone.now())
    for backup in (done, running):
        BlockRun.objects.create(
            backup=backup, index=0, batch=0, item_count=1, first_item="x", state="done",
            started=done.started, finished=done.started + timedelta(seconds=2),
        )  # fmt: skip
    name = "veloweb_block_duration_seconds"
    first = scrape(client)
    assert (
        Backup.objects.get(pk=done.pk).metrics_folded and not Backup.objects.get(pk=running.pk).metrics_folded
    )
    assert sample(first, name, f"{name}_count") == 2
    assert sample(scrape(client), name, f"{name}_count") == 2  # folded once, read once
    backup_services.delete_backup(Backup.objects.get(pk=done.pk))
    after = scrape(client)
    assert sample(after, name, f"{name}_count") == 2
    assert sample(after, name, f"{name}_bucket", le="5.0") == 2
    assert sample(after, "velero_backup_success", "velero_backup_success_total", schedule="") == 1


def test_velero_s_restore_counters_come_from_restore_rows(client, open_metrics, make_backup, cluster):
    """velero_restore_total and the outcome counters (a validation failure is an attempt too, as
    Velero's restore controller counts it), kept when a restore is deleted."""
    from backups.models import Restore

    backup = make_backup("src-1", phase=Phase.COMPLETED)
    phases = {
        "r-ok": "Completed",
        "r-part": "PartiallyFailed",
        "r-bad": "Failed",
        "r-invalid": "FailedValidation",
    }
    for name, phase in phases.items():
        Restore.objects.create(
            name=name, backup=backup, backup_name=backup.name, cluster=cluster, phase=phase,
            attempt=0 if phase == "FailedValidation" else 1,
        )  # fmt: skip
    Restore.objects.create(name="r-new", backup=backup, backup_name=backup.name, cluster=cluster)
    families = scrape(client)
    assert sample(families, "velero_restore_total") == 5
    expected = {"attempt": 4, "success": 1, "partial_failure": 1, "failed": 1, "validation_failed": 1}
    for what, value in expected.items():
        family = f"velero_restore_{what}"
        assert sample(families, family, f"{family}_total", schedule="") == value, what
    Restore.objects.get(name="r-ok").delete()
    after = scrape(client)
    assert sample(after, "velero_restore_total") == 4
    assert sample(after, "velero_restore_success", "velero_restore_success_total", schedule="") == 1
    assert sample(after, "velero_restore_attempt", "velero_restore_attempt_total", schedule="") == 4
