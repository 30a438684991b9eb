"""Cron expressions as Velero reads them: robfig/cron v3's ParseStandard (parser.go, spec.go).

Five fields (minute hour day-of-month month day-of-week, with `*`, `?`, ranges, steps, lists and
month/day names), the descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
`@midnight`, `@hourly` and `@every <Go duration>`, and an optional `CRON_TZ=<zone> ` (or `TZ=`)
prefix; UTC otherwise. Ported rather than taken from croniter, which matches day-of-month and
day-of-week differently (e.g. `*/1`), so an expression fires here exactly when it would in Velero.
Plain Python: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .durations import SCHEDULE_EVERY


class ScheduleError(ValueError):
    """An expression robfig/cron refuses; the message is Velero's `invalid schedule: <reason>`."""

    def __init__(self, reason: str):
        super().__init__(f"invalid schedule: {reason}")


# --- parsing (robfig/cron v3 parser.go) ------------------------------------------------------------------

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# name, minimum, maximum, names
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 6, DAYS),
)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression; `next(t)` is robfig's Schedule.Next: the first fire time after `t`."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    any_day: bool = False  # day of month or day of week is `*`/`?`: both must match, else either
    zone: tzinfo = UTC
    every: timedelta | None = None

    def next(self, after: datetime) -> datetime | None:
        if self.every is not None:  # ConstantDelaySchedule: whole seconds after `after`, truncated
            return after.replace(microsecond=0) + self.every
        return self._next_spec(after)

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        return (dom and dow) if self.any_day else (dom or dow)

    def _next_spec(self, after: datetime) -> datetime | None:
        """SpecSchedule.Next: advance month, day, hour, minute in the schedule's zone, wrapping;
        absolute steps (hours, minutes) are added in UTC as Go's Time.Add does across DST."""
        zone = self.zone

        def add(t: datetime, delta: timedelta) -> datetime:
            return (t.astimezone(UTC) + delta).astimezone(zone)

        t = after.astimezone(zone)
        t = add(t.replace(microsecond=0), timedelta(seconds=1))
        added = False
        year_limit = t.year + 5
        while True:  # WRAP
            if t.year > year_limit:
                return None
            wrapped = False
            while t.month not in self.months:
                if not added:
                    added = True
                    t = datetime(t.year, t.month, 1, tzinfo=zone)
                year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
                t = datetime(year, month, 1, t.hour, t.minute, t.second, tzinfo=zone)
                if t.month == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while not self._day_matches(t):
                if not added:
                    added = True
                    t = datetime(t.year, t.month, t.day, tzinfo=zone)
                day = t.date() + timedelta(days=1)
                t = datetime(day.year, day.month, day.day, t.hour, t.minute, t.second, tzinfo=zone)
                if t.hour != 0:  # DST moved midnight
                    t = add(t, timedelta(hours=24 - t.hour) if t.hour > 12 else timedelta(hours=-t.hour))
                if t.day == 1:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.hour not in self.hours:
                if not added:
                    added = True
                    t = datetime(t.year, t.month, t.day, t.hour, tzinfo=zone)
                t = add(t, timedelta(hours=1))
                if t.hour == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            while t.minute not in self.minutes:
                if not added:
                    added = True
                    t = t.replace(second=0)
                t = add(t, timedelta(minutes=1))
                if t.minute == 0:
                    wrapped = True
                    break
            if wrapped:
                continue
            if t.second != 0:  # the seconds field of a standard spec is always 0
                if not added:
                    added = True
                t = add(t.replace(second=0), timedelta(minutes=1))
                continue
            return t.astimezone(after.tzinfo or UTC)


def _number(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise ScheduleError(f"failed to parse int from {text}: not a number") from None
    if value < 0:
        raise ScheduleError(f"negative number ({value}) not allowed: {text}")
    return value


def _range(expr: str, field: tuple) -> tuple[set[int], bool]:
    _, low, high, names = field
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = low, high, True
    else:

        def value(text):
            return names[text.lower()] if text.lower() in names else _number(text)

        start = value(low_and_high[0])
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = value(low_and_high[1])
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = high
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _field(text: str, field: tuple) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        try:
            found, is_star = _range(expr, field)
        except ScheduleError as error:
            raise ScheduleError(f"{field[0]}: {str(error).removeprefix('invalid schedule: ')}") from None
        values |= found
        star = star or is_star
    return frozenset(values), star


def parse_schedule(text: str) -> CronSchedule:
    """robfig/cron's ParseStandard; ScheduleError naming the field and the problem."""
    spec = (text or "").strip()
    if not spec:
        raise ScheduleError("empty spec string")
    zone: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, spec = spec.partition(" ")
        zone_name = head.split("=", 1)[1]
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"provided bad location {zone_name}: unknown time zone {zone_name}") from None
        spec = spec.strip()
        if not spec:
            raise ScheduleError("empty spec string")
    if spec.startswith("@"):
        if spec.startswith("@every "):
            text = spec[len("@every ") :].strip()
            try:
                seconds = SCHEDULE_EVERY.check(text)
            except ValueError as error:
                raise ScheduleError(f"failed to parse duration {spec}: {error}") from None
            return CronSchedule(every=timedelta(seconds=int(seconds)), zone=zone)
        if spec not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    (minutes, _), (hours, _), (days, dom_star), (months, _), (weekdays, dow_star) = (
        _field(text, field) for text, field in zip(fields, FIELDS, strict=True)
    )
    return CronSchedule(minutes, hours, days, months, weekdays, dom_star or dow_star, zone)
