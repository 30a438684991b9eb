"""Schedules: a backup definition with a cron expression runs like Velero's Schedule
(pkg/controller/schedule_controller.go). Expressions are parsed by `backups.engine.cron_schedule`, Velero's
own cron syntax.

`fire_due` is the schedule controller's tick: RQ's CronScheduler (`backups.periodic_jobs`) enqueues it every
VELOWEB_SCHEDULE_INTERVAL seconds. Every function takes `now` so tests drive the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from backups import notices
from backups.engine.cron_schedule import ScheduleError, parse_schedule
from backups.models import Backup, BackupDefinition
from backups.services import audit

log = logging.getLogger(__name__)
Phase = Backup.Phase

# Velero's checkIfBackupInNewOrProgress, with our extra phases before and after InProgress.
BUSY = (Phase.NEW, Phase.QUEUED, Phase.READY, Phase.IN_PROGRESS, Phase.FINALIZING, Phase.CANCELLING)


# --- the controller ------------------------------------------------------------------------------------


@dataclass
class ScheduleState:
    """What the dashboard shows of one schedule at `now`."""

    expression: str
    paused: bool
    error: str = ""
    next_run: datetime | None = None
    due: bool = False
    waiting_for: Backup | None = None


def base_time(definition: BackupDefinition) -> datetime:
    """Velero's getNextRunTime base: the last run or skip; here also when the expression was set
    (a changed expression starts afresh), else when the definition was created."""
    times = [
        t for t in (definition.last_backup_at, definition.last_skipped_at, definition.schedule_since) if t
    ]
    return max(times) if times else definition.created


def running_backup(definition: BackupDefinition) -> Backup | None:
    """A backup of this schedule not finished yet (Velero's checkIfBackupInNewOrProgress)."""
    mine = Q(definition=definition) | Q(schedule_name=definition.name)
    return Backup.objects.filter(mine, phase__in=BUSY).order_by("created", "id").first()


def state_of(definition: BackupDefinition, now: datetime | None = None) -> ScheduleState | None:
    """None for a manual-only definition."""
    if not definition.schedule:
        return None
    now = now or timezone.now()
    state = ScheduleState(definition.schedule, definition.paused)
    try:
        cron = parse_schedule(definition.schedule)
    except ScheduleError as error:
        state.error = str(error)
        return state
    if definition.paused:
        return state
    state.next_run = cron.next(base_time(definition))
    state.due = state.next_run is not None and now > state.next_run
    if state.due:
        state.waiting_for = running_backup(definition)
    return state


def run_name(definition: BackupDefinition, now: datetime) -> str:
    """Velero's `<schedule>-<YYYYmmddHHMMSS>` of the fire time, in UTC."""
    return f"{definition.name}-{now.astimezone(UTC):%Y%m%d%H%M%S}"


def fire_if_due(definition: BackupDefinition, now: datetime | None = None) -> Backup | None:
    """Create the due run of one schedule; None when not due, busy, or another scheduler won."""
    from backups.services import backups as backup_services

    now = now or timezone.now()
    state = state_of(definition, now)
    if state is None or state.error or not state.due:
        return None
    note_missed(definition, state, now)
    if state.waiting_for is not None:
        log.info(
            "schedule %s is due but %s is %s: skipping this tick",
            definition.name,
            state.waiting_for.name,
            state.waiting_for.phase,
        )
        return None
    # Claim the run: only the scheduler whose update sees the values it read goes on.
    claimed = BackupDefinition.objects.filter(
        pk=definition.pk,
        paused=False,
        schedule=definition.schedule,
        last_backup_at=definition.last_backup_at,
        last_skipped_at=definition.last_skipped_at,
    ).update(last_backup_at=now)
    if not claimed:
        log.info("schedule %s: another scheduler fired it first", definition.name)
        return None
    definition.last_backup_at = now
    name = run_name(definition, now)
    try:
        backup = backup_services.back_up_definition(definition, name=name, now=now)
    except IntegrityError:
        log.warning("schedule %s: backup %s exists already", definition.name, name)
        return None
    log.info("schedule %s fired: backup %s is %s", definition.name, backup.name, backup.phase)
    return backup


def note_missed(definition: BackupDefinition, state: ScheduleState, now: datetime) -> None:
    """A run is missed once the run after it is due too (a backup of the schedule still running,
    or the scheduler stopped): raise `schedule.missed` once per missed run. Not after a pause or
    an edit made since the run was due (resuming late is what the admin asked for)."""
    if state.next_run is None or definition.updated > state.next_run:
        return
    following = parse_schedule(definition.schedule).next(state.next_run)
    if following is None or following > now:
        return
    if state.waiting_for is not None:
        why = f"backup {state.waiting_for.name} is still {state.waiting_for.phase}"
    else:
        why = "the scheduler did not run it in time; one late run is made now"
    due = f"{state.next_run.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    message = f"schedule {definition.name} missed its run due {due}: {why}"
    notices.schedule_missed(definition, state.next_run, message)


def fire_due(now: datetime | None = None) -> list[str]:
    """One tick of the schedule controller over every active schedule; the names it created.

    At most one run per schedule and tick, and none for runs missed while stopped or paused
    beyond the latest one (the base time is the last run, so one late run catches up)."""
    now = now or timezone.now()
    fired = []
    schedules = BackupDefinition.objects.exclude(schedule="").filter(paused=False).select_related("cluster")
    for definition in schedules:
        try:
            backup = fire_if_due(definition, now)
        except Exception:  # noqa: BLE001 - one broken schedule must not stop the others
            log.exception("schedule %s: firing failed", definition.name)
            continue
        if backup is not None:
            fired.append(backup.name)
    return fired


def apply_settings(
    definition: BackupDefinition,
    expression: str,
    paused: bool,
    skip_immediately: bool,
    now: datetime | None = None,
) -> None:
    """Set the schedule fields from the define form (not saved): a changed expression restarts
    the schedule from now; un-pausing is a resume."""
    now = now or timezone.now()
    expression = (expression or "").strip()
    if expression != definition.schedule:
        definition.schedule = expression
        definition.schedule_since = now if expression else None
    was_paused = definition.paused
    definition.paused = paused
    definition.skip_immediately = skip_immediately
    if was_paused and not paused and skip_immediately and definition.pk:
        definition.last_skipped_at = now


def pause(definition: BackupDefinition, now: datetime | None = None) -> None:
    if BackupDefinition.objects.filter(pk=definition.pk, paused=False).update(
        paused=True, updated=now or timezone.now()
    ):
        audit.record(audit.SCHEDULE_PAUSED, definition)
    definition.paused = True


def resume(definition: BackupDefinition, now: datetime | None = None) -> None:
    """Un-pause; with skip_immediately a run already due is skipped (Velero's skipImmediately)."""
    now = now or timezone.now()
    changes = {"paused": False, "updated": now}
    if definition.skip_immediately:
        changes["last_skipped_at"] = now
    if BackupDefinition.objects.filter(pk=definition.pk, paused=True).update(**changes):
        audit.record(
            audit.SCHEDULE_RESUMED, definition, details={"skipped_due_run": "last_skipped_at" in changes}
        )
    definition.paused = False
    if "last_skipped_at" in changes:
        definition.last_skipped_at = now
