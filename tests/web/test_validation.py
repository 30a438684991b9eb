"""One validation layer: every option a backup takes is checked by `backups.validation`, which
the form, the CLI, schedules and the services share; refused names never reach the database or
the file system."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backups.models import Backup, StorageLocation
from backups.runs.staging import Staging, UnsafePath, child_of
from backups.services import backups as backup_services
from backups.services.locations import ReadOnlyDefault, set_default
from backups.validation import InvalidName, UnstorableValue, backup_problems

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)


def fields_of(problems):
    return {p.field for p in problems}


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"ttl": "99999999h"}, "ttl", "must be at most 87600h0m0s (10 years)"),
        ({"ttl": 5}, "ttl", "expected a duration"),
        ({"csi_snapshot_timeout": "25h"}, "csi_snapshot_timeout", "must be at most 24h0m0s"),
        ({"included_namespaces": "shop"}, "included_namespaces", "expected a list of names"),
        ({"included_namespaces": [3]}, "included_namespaces", "expected a list of names"),
        ({"excluded_namespaces": ["*"]}, "excluded_namespaces", "'*' cannot be excluded"),
        ({"excluded_resources": ["*"]}, "excluded_resources", "'*' cannot be excluded"),
        ({"included_resources": ["*", "pods"]}, "included_resources", "'*' only"),
        ({"include_cluster_resources": "yes"}, "include_cluster_resources", "expected true, false or unset"),
        ({"label_selector": ["a=b"]}, "label_selector", "expected text"),
        ({"ordered_resources": {"pods": "a,b"}}, "ordered_resources", "a map of resource to names"),
        ({"hooks": {"resources": [], "extra": 1}}, "hooks", "expected {"),
        (
            {"hooks": {"resources": [{"name": "x", "pre": [{"exec": {"command": ["a"], "timeout": "2d"}}]}]}},
            "hooks",
            "unknown unit",
        ),  # fmt: skip
        ({"workers": 0}, "workers", "from 1 to 64"),
        ({"workers": True}, "workers", "from 1 to 64"),
        ({"workers": "4"}, "workers", "from 1 to 64"),
        ({"volume_group_label_key": "a/b/c"}, "volume_group_label_key", "at most one '/'"),
        ({"volume_group_label_key": "A_B/x"}, "volume_group_label_key", "lowercase DNS subdomain"),
    ],
)
def test_each_problem_names_its_field(fields, field, text):
    (problem,) = backup_problems(fields)
    assert problem.field == field
    assert text in problem.message


def test_defaults_have_no_problem():
    assert backup_problems({}) == []


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", "Bad", "x" * 64, "-x", "x-", "a b", "é"])
def test_a_refused_name_saves_nothing(cluster, name):
    with pytest.raises(InvalidName):
        backup_services.create_backup(name, cluster)
    assert not Backup.objects.exists()


def test_the_cli_refuses_a_bad_name_before_anything_is_saved(cluster):
    with pytest.raises(CommandError, match="invalid name '../x'"):
        call_command("backup", "create", "../x", "--cluster", cluster.name)
    assert not Backup.objects.exists()


def test_refused_options_give_a_failed_validation_backup_with_every_reason(cluster, settings, tmp_path):
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"
    backup = backup_services.create_backup("odd", cluster, ttl="99999999h", workers=99, label_selector="(")
    assert backup.phase == Backup.Phase.FAILED_VALIDATION
    assert len(backup.validation_errors) == 3
    assert backup.expiration is not None  # expires (720h) like any refused backup


def test_run_names_stay_valid_when_a_second_is_crowded():
    prefix = "p" * 48  # the longest definition name: `-YYYYmmddHHMMSS` leaves no room for `-2`
    names = list(backup_services.run_names(prefix, NOW, seconds=3))
    assert names == [f"{prefix}-20261205120000", f"{prefix}-20261205120001", f"{prefix}-20261205120002"]
    short = list(backup_services.run_names("db", NOW, seconds=1))
    assert short[:3] == ["db-20261205120000", "db-20261205120000-2", "db-20261205120000-3"]
    assert all(len(n) <= 63 for n in names + short)


def test_back_up_now_takes_the_next_free_name(cluster, settings, tmp_path):
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0
    names = [backup_services.create_backup_now("db", cluster, now=NOW).name for _ in range(3)]
    assert names == ["db-20261205120000", "db-20261205120000-2", "db-20261205120000-3"]


def test_the_same_request_twice_creates_one_backup(cluster, settings, tmp_path):
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0
    first = backup_services.create_backup_now("db", cluster, now=NOW, request_token="t" * 32)
    again = backup_services.create_backup_now("db", cluster, now=NOW, request_token="t" * 32)
    assert again.pk == first.pk
    assert Backup.objects.count() == 1


def test_a_double_click_on_back_up_now_creates_one_backup(client_as, cluster, settings, tmp_path):
    settings.VELOWEB_DEFAULT_STORAGE_DIR = tmp_path / "default"
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0
    operator = client_as("operator")
    form = operator.get("/backups/new/").context["form"]
    data = {
        "cluster": cluster.pk,
        "name_prefix": "web",
        "ttl": "720h0m0s",
        "workers": "4",
        "backup": "1",
        "request_token": form.initial["request_token"],
    }
    first, second = operator.post("/backups/new/", data), operator.post("/backups/new/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Backup.objects.count() == 1


def test_staging_paths_never_leave_their_root(settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    (tmp_path / "staging").mkdir()
    victim = tmp_path / "x-7"
    victim.mkdir()
    for name in ("..", "../x", "a/b", ".", ""):
        with pytest.raises(UnsafePath):
            child_of(tmp_path / "staging", name)
    row = Backup(name="../x", pk=7)  # saved by an older version that did not check names
    with pytest.raises(UnsafePath):
        Staging.of(row)
    assert victim.exists()


def test_a_staging_folder_replaced_by_a_link_is_not_followed(settings, tmp_path):
    root = tmp_path / "staging"
    root.mkdir()
    settings.VELOWEB_STAGING_DIR = root
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "file").write_text("keep")
    (root / "b-1").symlink_to(outside)
    with pytest.raises(UnsafePath):
        Staging.of(Backup(name="b", pk=1)).remove()
    assert (outside / "file").read_text() == "keep"


def test_deleting_an_old_row_with_an_unsafe_name_removes_only_the_row(cluster, settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    (tmp_path / "staging").mkdir()
    outside = tmp_path / "x-1"
    outside.mkdir()
    row = Backup.objects.create(name="../x", cluster=cluster, phase=Backup.Phase.FAILED_VALIDATION)
    assert Path(settings.VELOWEB_STAGING_DIR, f"../x-{row.pk}").resolve().parent == tmp_path
    backup_services.delete_backup(row)
    assert not Backup.objects.exists()
    assert outside.exists()


def test_a_read_only_location_cannot_be_the_default(db, tmp_path):
    archive = StorageLocation.objects.create(name="archive", path=str(tmp_path), read_only=True)
    with pytest.raises(ReadOnlyDefault, match="archive is read-only"):
        set_default(archive)
    assert not StorageLocation.objects.filter(default=True).exists()


def test_the_location_form_refuses_a_read_only_default(client_as, tmp_path):
    response = client_as("admin").post(
        "/settings/locations/new/",
        {"name": "archive", "provider": "local", "path": str(tmp_path), "default": "on", "read_only": "on"},
    )
    assert response.status_code == 200
    assert "cannot be the default" in " ".join(response.context["form"].errors["read_only"])
    assert not StorageLocation.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"csi_snapshot_timeout": "\x00"},
        {"included_namespaces": ["shop\x00"]},
        {"hooks": {"resources": [{"name": "db\x00", "pre": []}]}},
        {"ordered_resources": {"pods\x00": ["a"]}},
    ],
)
def test_a_value_no_database_can_store_is_refused_and_nothing_saved(cluster, fields):
    """PostgreSQL refuses NUL in text and JSON: such a backup could not even be kept as
    FailedValidation (found by the property test on PostgreSQL)."""
    problems = backup_problems(fields)
    assert any("contains a NUL character" in p.message for p in problems), problems
    with pytest.raises(UnstorableValue):
        backup_services.create_backup("nul", cluster, **fields)
    assert not Backup.objects.exists()
