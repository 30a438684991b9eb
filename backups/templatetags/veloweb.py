from django import template

register = template.Library()


@register.filter
def warnings_of(bound_field) -> list[str]:
    """The warnings a form found for one of its fields (`form.warnings`: field name -> messages)."""
    return getattr(bound_field.form, "warnings", {}).get(bound_field.name, [])


@register.simple_tag
def request_token() -> str:
    """A fresh one-time token for a button or form that creates a backup (see forms.new_request_token)."""
    from backups.forms import new_request_token

    return new_request_token()


@register.filter
def seconds(value) -> str:
    """12 → "12s", 75 → "1m 15s", 3700 → "1h 1m"; "—" for None."""
    if value is None or value == "":
        return "—"
    total = int(round(float(value)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@register.filter
def duration_of(backup) -> str:
    """Run time of a backup (so far, while it runs)."""
    if not backup.started:
        return "—"
    from django.utils import timezone

    return seconds(((backup.completed or timezone.now()) - backup.started).total_seconds())


@register.filter
def block_duration(block) -> str:
    if not block.started or not block.finished:
        return ""
    return f"{(block.finished - block.started).total_seconds():.2f}s"


@register.filter
def phase_class(phase: str) -> str:
    return {
        "Completed": "ok",
        "PartiallyFailed": "warn",
        "Failed": "bad",
        "FailedValidation": "bad",
        "InProgress": "run",
        "Finalizing": "run",
        "ReadyToStart": "run",
        "Cancelling": "run",
        "Cancelled": "cancelled",
        "New": "run",
    }.get(phase, "idle")


@register.simple_tag
def role_of(user) -> str:
    """The user's role name, "" without one (for showing only the links a user may follow)."""
    from backups.permissions import role_of as role

    return role(user) or ""


@register.filter
def get_item(mapping, key):
    """`mapping[key]`, or None (a dry run's counts by action)."""
    return mapping.get(key) if isinstance(mapping, dict) else None
