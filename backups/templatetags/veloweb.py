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
def progress_percent(backup) -> int:
    """How far a running backup got, as its page's progress bar says."""
    from backups.queries import progress_of

    return progress_of(backup).percent


@register.filter
def duration(value) -> str:
    """Seconds with a tenth below a minute (0.4 → "0.4s"), else as `seconds`."""
    if value is None or value == "":
        return "—"
    return f"{float(value):.1f}s" if float(value) < 60 else seconds(value)


@register.filter
def epoch_iso(value) -> str:
    """Epoch seconds as the log writes them: RFC 3339 in UTC, to the second."""
    from backups.engine.velero_format.log_text import log_time

    try:
        return log_time(float(value))
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


@register.filter
def since_seconds(since, now) -> str:
    """How long something that started at epoch `since` has run, at epoch `now`."""
    try:
        return seconds(max(0.0, float(now) - float(since)))
    except (TypeError, ValueError):
        return "—"


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


@register.filter
def audit_details(details) -> str:
    """An audit entry's details as compact JSON, cut at 300 characters (the export has them whole)."""
    import json

    text = json.dumps(details, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= 300 else text[:299] + "…"


@register.filter
def notification_url(target) -> str:
    """A target's URL as pages show it: scheme and host, never a token."""
    from backups.services.notifications import shown_url

    return shown_url(target)


@register.simple_tag(takes_context=True)
def sso_login(context):
    """The SSO button's link and label when single sign-on is on (VELOWEB_OIDC_*), else None."""
    from urllib.parse import urlencode

    from django.conf import settings
    from django.urls import reverse

    if not getattr(settings, "VELOWEB_OIDC_ENABLED", False):
        return None
    url = reverse("oidc_authentication_init")
    following = context.get("next") or ""
    if following:
        url += "?" + urlencode({"next": following})
    return {"url": url, "label": settings.VELOWEB_OIDC_LABEL}


@register.simple_tag
def sign_out_url() -> str:
    """Django's sign-out, or with SSO on mozilla-django-oidc's, which also ends the provider's
    session of an SSO sign-in (`services.sso.provider_logout_url`)."""
    from django.conf import settings
    from django.urls import reverse

    return reverse("oidc_logout" if getattr(settings, "VELOWEB_OIDC_ENABLED", False) else "logout")


@register.filter
def json_value(value) -> str:
    """A field's value in a diff: strings as they are, anything else as compact JSON."""
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
