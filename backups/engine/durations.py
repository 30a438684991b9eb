"""Go duration strings (`30s`, `1h30m`, `720h0m0s`), as Velero's API and annotations use them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # µ (micro sign)
    "\u03bcs": 1e-6,  # μ (Greek mu)
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_PLAIN_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration (`30s`, `5m`, `1h30m`, `1.5s`, `500ms`), in seconds.

    Raises ValueError saying what is wrong. As in Go, a bare `0` is valid; any other number needs a
    unit, which is exactly the case Velero silently replaced by 30s (#2599).
    """
    text = text.strip()
    body = text.lstrip("+-")
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"a unit is required (e.g. {body}s)")
    if not body:
        raise ValueError("not a duration (e.g. 30s, 5m, 1h30m)")
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match or not (match.group(1) or match.group(2)):
            raise ValueError("not a duration (e.g. 30s, 5m, 1h30m)")
        whole, frac, unit = match.groups()
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown unit {unit!r} (use ns, us, ms, s, m or h)")
        total += float(f"{whole or '0'}.{frac or '0'}") * _DURATION_UNITS[unit]
        pos = match.end()
    return sign * total


def go_duration(value: str | float | int | timedelta) -> str:
    """Go's Duration.String() for whole and fractional seconds: 720h0m0s, 10m0s, 30s, 0s."""
    if isinstance(value, str):
        value = parse_duration(value)  # "24h" is written back as Go does: 24h0m0s
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    whole = int(seconds)
    frac = round(seconds - whole, 9)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = f"{secs}" if not frac else f"{secs + frac:.9f}".rstrip("0")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}s"
    if minutes:
        return f"{sign}{minutes}m{sec_text}s"
    return f"{sign}{sec_text}s"


@dataclass(frozen=True)
class DurationLimit:
    """The sane range of one kind of duration. Go's durations stop at about 292 years and Python's
    datetimes at year 9999: an unbounded value (a TTL of 99999999h) once crashed the dispatcher
    on every retry, so every duration a user gives is checked against its limit first."""

    what: str
    high: float  # seconds, inclusive
    low: float = 0.0  # seconds, inclusive
    zero_ok: bool = True  # 0 means "the default" (Velero's TTL, timeouts), allowed below `low`

    def check(self, text: str) -> float:
        """The duration in seconds, or ValueError saying what is wrong and what the limits are."""
        seconds = parse_duration(text)
        if seconds < 0:
            raise ValueError("must not be negative")
        if seconds == 0 and self.zero_ok:
            return seconds
        if seconds < self.low:
            raise ValueError(f"must be at least {go_duration(self.low)}")
        if seconds > self.high:
            raise ValueError(f"must be at most {go_duration(self.high)} ({_human(self.high)})")
        return seconds


def _human(seconds: float) -> str:
    days = seconds / 86400
    if days >= 365:
        years = days / 365
        return f"{years:g} year" + ("s" if years != 1 else "")
    if days >= 1:
        return f"{days:g} day" + ("s" if days != 1 else "")
    return f"{seconds / 3600:g} hours"


HOUR, DAY = 3600.0, 86400.0
# A backup kept ten years is already beyond any retention policy seen; Velero's default is 720h.
TTL = DurationLimit("ttl", high=10 * 365 * DAY)
# A hook that freezes a pod for more than a day is a mistake; Velero's default is 30s.
HOOK_TIMEOUT = DurationLimit("hook timeout", high=DAY)
# Velero's default is 10m; the API server and the snapshot controller answer in seconds to minutes.
CSI_SNAPSHOT_TIMEOUT = DurationLimit("csi snapshot timeout", high=DAY)
# `@every`: schedules are checked once a minute, so anything shorter cannot be kept anyway.
SCHEDULE_EVERY = DurationLimit("schedule interval", low=60.0, high=10 * 365 * DAY, zero_ok=False)
# Anything Go can hold (an int64 of nanoseconds, about 292 years): what a Backup that Velero wrote
# can say, checked before such a value is added to a date (imports, beyond Veloweb's own limits).
GO_DURATION = DurationLimit("duration", high=(2**63 - 1) / 1e9)


DEFAULT_BACKUP_TTL_SECONDS = 720 * 3600  # Velero's --default-backup-ttl


def expiration_at(ttl: str, now: datetime) -> datetime:
    """Velero's expiration, computed before validation: now + TTL, or + 720h when the TTL is zero
    or itself invalid (so even a refused backup expires and is collected)."""
    try:
        seconds = TTL.check(ttl or "")
    except ValueError:
        seconds = 0
    return now + timedelta(seconds=seconds if seconds > 0 else DEFAULT_BACKUP_TTL_SECONDS)
