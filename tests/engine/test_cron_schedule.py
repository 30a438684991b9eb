"""Cron expressions mean what they mean to Velero (robfig/cron's ParseStandard): next fire times,
descriptors, @every, time zones, and errors that say what is wrong."""

from datetime import UTC, datetime

import pytest

from backups.engine.cron_schedule import ScheduleError, parse_schedule


def at(day, hour, minute=0, second=0, microsecond=0):
    return datetime(2026, 1, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 3 * * *", at(1, 3), at(2, 3)),  # strictly after: 03:00 itself is not "next"
        ("0 3 * * *", at(1, 2, 59, 59, 999), at(1, 3)),
        ("*/15 9-17 * * MON-FRI", at(2, 17, 50), at(5, 9)),  # Friday evening -> Monday 09:00
        ("0 0 1 * MON", at(1, 3), at(5, 0)),  # both days restricted: either matches (Jan 5 is a Monday)
        ("0 0 */1 * MON", at(1, 3), at(5, 0)),  # */1 counts as '*': both must match
        ("0 0 1-31 * MON", at(1, 3), at(2, 0)),  # a full range is not '*': either matches
        ("0 0 29 2 *", at(1, 0), datetime(2028, 2, 29, tzinfo=UTC)),
        ("@hourly", at(1, 3, 0, 1), at(1, 4)),
        ("@daily", at(1, 3), at(2, 0)),
        ("@weekly", at(1, 3), at(4, 0)),  # Sunday
        ("@monthly", at(1, 3), datetime(2026, 2, 1, tzinfo=UTC)),
        ("@yearly", at(1, 3), datetime(2027, 1, 1, tzinfo=UTC)),
        ("@every 90m", at(1, 3, 0, 0, 500), at(1, 4, 30)),  # whole seconds after the base
        ("CRON_TZ=Europe/Paris 0 3 * * *", at(1, 0), at(1, 2)),  # 03:00 CET is 02:00 UTC
        (
            "CRON_TZ=Europe/Paris 0 3 * * *",
            datetime(2026, 7, 1, tzinfo=UTC),
            datetime(2026, 7, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_next_run_follows_robfig_cron(expression, after, expected):
    assert parse_schedule(expression).next(after) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "invalid schedule: expected exactly 5 fields, found 4: [* * * *]"),
        ("0 0 0 * * *", "invalid schedule: expected exactly 5 fields, found 6"),
        ("61 * * * *", "invalid schedule: minute: end of range (61) above maximum (59): 61"),
        ("0 0 * * 7", "invalid schedule: day of week: end of range (7) above maximum (6): 7"),
        ("0 0 L * *", "invalid schedule: day of month: failed to parse int from L"),
        ("0 0 * * MON-FRI/0", "invalid schedule: day of week: step of range should be a positive number"),
        ("0 12-1 * * *", "invalid schedule: hour: beginning of range (12) beyond end of range (1)"),
        ("@often", "invalid schedule: unrecognized descriptor: @often"),
        ("@every 5", "invalid schedule: failed to parse duration @every 5: a unit is required"),
        # robfig/cron would run these every second; schedules are checked once a minute
        ("@every 0s", "invalid schedule: failed to parse duration @every 0s: must be at least 1m0s"),
        ("@every 30s", "invalid schedule: failed to parse duration @every 30s: must be at least 1m0s"),
        ("@every 99999999h", "invalid schedule: failed to parse duration @every 99999999h: must be at most"),
        ("CRON_TZ=Mars/Olympus 0 3 * * *", "invalid schedule: provided bad location Mars/Olympus"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expression, message):
    with pytest.raises(ScheduleError) as error:
        parse_schedule(expression)
    assert str(error.value).startswith(message)
