"""Schedules, driven by an explicit clock: when a definition's cron fires, with which name, what a
busy or paused schedule does, resume with and without skip_immediately, two schedulers at once,
the form's errors and the definitions page's schedule row (the cron syntax:
tests/engine/test_cron_schedule.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from backups.models import Backup, BackupDefinition
from backups.services import schedules
from backups.services.schedules import fire_due, state_of

Phase = Backup.Phase
DAY1 = datetime(2026, 1, 1, tzinfo=UTC)


def at(day, hour, minute=0, second=0, microsecond=0):
    return datetime(2026, 1, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.fixture(autouse=True)
def nothing_admitted(settings):
    """Backups stay Queued (no RQ job is enqueued): each test decides when a run ends."""
    settings.VELOWEB_MAX_RUNNING_BACKUPS = 0


@pytest.fixture
def nightly(cluster):
    return BackupDefinition.objects.create(
        name="nightly",
        cluster=cluster,
        included_namespaces=["shop"],
        schedule="0 3 * * *",
        schedule_since=DAY1,
    )


def finish(name, phase=Phase.COMPLETED):
    Backup.objects.filter(name=name).update(phase=phase)


def fresh(definition):
    return BackupDefinition.objects.get(pk=definition.pk)


# --- firing ---------------------------------------------------------------------------------------------


def test_fires_once_the_time_has_passed_with_the_schedules_name(nightly):
    assert fire_due(now=at(1, 2, 59, 59)) == []
    assert fire_due(now=at(1, 3)) == []  # due only after the fire time, as Velero's asOf.After(next)
    assert not Backup.objects.exists()

    assert fire_due(now=at(1, 3, 0, 30, 250)) == ["nightly-20260101030030"]
    backup = Backup.objects.get()
    assert backup.definition == nightly and backup.schedule_name == "nightly"
    assert backup.included_namespaces == ["shop"] and backup.phase == Phase.QUEUED
    assert fresh(nightly).last_backup_at == at(1, 3, 0, 30, 250)
    finish(backup.name)
    assert fire_due(now=at(1, 3, 1, 30)) == []  # next is tomorrow 03:00
    assert state_of(fresh(nightly), at(1, 3, 1, 30)).next_run == at(2, 3)


def test_after_a_long_gap_one_run_fires_and_missed_runs_are_not_caught_up(nightly):
    fire_due(now=at(1, 3, 0, 30))
    finish("nightly-20260101030030")
    assert fire_due(now=at(10, 8, 15)) == ["nightly-20260110081500"]
    finish("nightly-20260110081500")
    assert fire_due(now=at(10, 8, 16)) == []
    assert Backup.objects.count() == 2
    assert state_of(fresh(nightly), at(10, 8, 16)).next_run == at(11, 3)


def test_a_due_run_waits_while_the_previous_one_is_unfinished_then_fires(nightly):
    fire_due(now=at(1, 3, 0, 30))
    first = Backup.objects.get()
    for phase in (Phase.QUEUED, Phase.READY, Phase.IN_PROGRESS, Phase.FINALIZING):
        finish(first.name, phase)
        assert fire_due(now=at(2, 3, 0, 30)) == []
        state = state_of(fresh(nightly), at(2, 3, 0, 30))
        assert state.due and state.waiting_for == first
    assert fresh(nightly).last_skipped_at is None  # nothing recorded while waiting
    page_row = schedules.state_of(fresh(nightly), at(2, 3, 0, 30))
    assert page_row.waiting_for.name == "nightly-20260101030030"

    finish(first.name, Phase.PARTIALLY_FAILED)
    assert fire_due(now=at(2, 3, 1, 30)) == ["nightly-20260102030130"]


def test_a_paused_schedule_never_fires(nightly):
    schedules.pause(nightly)
    assert fire_due(now=at(5, 12)) == []
    state = state_of(fresh(nightly), at(5, 12))
    assert state.paused and state.next_run is None and not state.due
    assert not Backup.objects.exists()


def test_resume_fires_the_missed_run_on_the_next_tick(nightly):
    schedules.pause(nightly)
    fire_due(now=at(3, 12))
    schedules.resume(fresh(nightly), now=at(3, 12, 5))
    assert fire_due(now=at(3, 12, 6)) == ["nightly-20260103120600"]


def test_resume_with_skip_immediately_skips_the_run_already_due(nightly):
    BackupDefinition.objects.filter(pk=nightly.pk).update(skip_immediately=True)
    schedules.pause(nightly)
    schedules.resume(fresh(nightly), now=at(3, 12, 5))
    assert fresh(nightly).last_skipped_at == at(3, 12, 5)
    assert fire_due(now=at(3, 12, 6)) == []
    assert fire_due(now=at(4, 3, 0, 30)) == ["nightly-20260104030030"]


def test_every_fires_at_the_interval_after_the_last_run(cluster):
    BackupDefinition.objects.create(name="often", cluster=cluster, schedule="@every 6h", schedule_since=DAY1)
    assert fire_due(now=at(1, 6)) == []
    assert fire_due(now=at(1, 6, 0, 1)) == ["often-20260101060001"]
    finish("often-20260101060001")
    assert fire_due(now=at(1, 12)) == []
    assert fire_due(now=at(1, 12, 0, 2)) == ["often-20260101120002"]


def test_two_schedulers_that_read_the_same_state_create_one_backup(nightly):
    """Both read the definition before either fires; the first run even ends before the second
    scheduler gets on, so only the compare-and-swap on last_backup_at stops the second."""
    seen_by_a, seen_by_b = fresh(nightly), fresh(nightly)
    now = at(1, 3, 0, 30)
    assert schedules.fire_if_due(seen_by_a, now).name == "nightly-20260101030030"
    finish("nightly-20260101030030")
    assert schedules.fire_if_due(seen_by_b, now + timedelta(seconds=1)) is None
    assert Backup.objects.count() == 1


def test_changing_the_expression_starts_the_schedule_afresh(nightly):
    fire_due(now=at(1, 3, 0, 30))
    finish("nightly-20260101030030")
    definition = fresh(nightly)
    schedules.apply_settings(definition, "@every 1h", paused=False, skip_immediately=False, now=at(1, 15))
    definition.save()
    assert fresh(nightly).schedule_since == at(1, 15)
    assert fire_due(now=at(1, 15, 30)) == []  # not 04:00 (an hour after the last run)
    assert fire_due(now=at(1, 16, 0, 1)) == ["nightly-20260101160001"]


def test_a_broken_expression_stored_elsewhere_never_fires_and_says_why(cluster):
    BackupDefinition.objects.create(name="typo", cluster=cluster, schedule="0 25 * * *", schedule_since=DAY1)
    assert fire_due(now=at(5, 12)) == []
    assert state_of(BackupDefinition.objects.get(), at(5, 12)).error.startswith("invalid schedule: hour:")


# --- the define form ------------------------------------------------------------------------------------


@pytest.fixture
def operator(client_as):
    return client_as("operator")


def save(client, cluster, url="/backups/new/", **fields):
    data = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk, "save": "1"}
    return client.post(url, {**data, **fields})


def test_the_form_refuses_an_invalid_cron_on_the_schedule_field(operator, cluster):
    response = save(operator, cluster, schedule="0 3 * *")
    assert response.status_code == 200
    assert response.context["form"].errors["schedule"] == [
        "invalid schedule: expected exactly 5 fields, found 4: [0 3 * *]"
    ]
    assert 'id="id_schedule-errors"' in response.content.decode()
    assert not BackupDefinition.objects.exists()


def test_the_form_refuses_a_ttl_without_unit_naming_the_field_and_the_unit(operator, cluster):
    response = save(operator, cluster, ttl="30", schedule="@daily")
    assert response.context["form"].errors["ttl"] == ["invalid ttl '30': a unit is required (e.g. 30s)"]
    assert not BackupDefinition.objects.exists()


def test_saving_a_schedule_sets_since_and_editing_other_fields_keeps_it(operator, cluster):
    assert save(operator, cluster, schedule="CRON_TZ=Europe/Paris 0 3 * * *", paused="on").status_code == 302
    definition = BackupDefinition.objects.get()
    assert definition.schedule == "CRON_TZ=Europe/Paris 0 3 * * *" and definition.paused
    since = definition.schedule_since
    assert since is not None
    url = f"/definitions/{definition.pk}/edit/"
    assert operator.get(url).context["form"].initial["schedule"] == definition.schedule
    save(operator, cluster, url=url, schedule=definition.schedule, paused="on", included_namespaces="shop")
    assert fresh(definition).schedule_since == since
    save(operator, cluster, url=url, schedule="", included_namespaces="shop")
    assert fresh(definition).schedule == "" and fresh(definition).schedule_since is None


# --- the definitions page -------------------------------------------------------------------------------


def test_the_page_shows_the_schedule_last_and_next_run(operator, nightly):
    fire_due(now=at(1, 3, 0, 30))
    page = operator.get("/definitions/").content.decode()
    assert "<code>0 3 * * *</code>" in page and "active" in page
    assert "nightly-20260101030030" in page  # the last run, linked
    assert "waiting for" in page  # the run of day 2 is due (real clock) but day 1's is still queued


def test_pause_resume_and_run_now_swap_the_row(operator, nightly):
    url = f"/definitions/{nightly.pk}"
    row = operator.post(f"{url}/pause/", headers={"HX-Request": "true"}).content.decode()
    assert row.startswith('<tr id="definition-') and "paused" in row and "Resume" in row
    assert fresh(nightly).paused

    row = operator.post(f"{url}/resume/", headers={"HX-Request": "true"}).content.decode()
    assert "active" in row and "Pause" in row and not fresh(nightly).paused

    row = operator.post(f"{url}/backup/", headers={"HX-Request": "true"}).content.decode()
    backup = Backup.objects.get()
    assert backup.name in row and backup.schedule_name == "nightly" and backup.definition == nightly


def test_back_up_now_of_a_manual_definition_has_no_schedule_label(operator, cluster):
    manual = BackupDefinition.objects.create(name="manual", cluster=cluster)
    response = operator.post(f"/definitions/{manual.pk}/backup/")
    assert response.status_code == 302
    assert Backup.objects.get().schedule_name == ""


def test_a_viewer_sees_schedules_but_cannot_pause_or_run_them(client_as, nightly):
    viewer = client_as("viewer")
    page = viewer.get("/definitions/").content.decode()
    assert "0 3 * * *" in page and "Pause" not in page
    assert viewer.post(f"/definitions/{nightly.pk}/pause/").status_code == 403
    assert viewer.post(f"/definitions/{nightly.pk}/backup/").status_code == 403
    assert not fresh(nightly).paused and not Backup.objects.exists()
