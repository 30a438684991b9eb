"""HTTP protections that Django's settings alone do not give: the Content-Security-Policy header and
the sign-in page shown to a locked-out user (django-axes' lock-out callable).

The policy allows only the dashboard's own scripts and styles (no inline script, style attribute
or eval: templates put behaviour in static/veloweb.js and `data-` attributes, htmx runs with
`allowEval` off), its own WebSocket, and `data:` images (the empty favicon)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Sets CONTENT_SECURITY_POLICY on every response that has none, or the policy of the first
    path prefix of CONTENT_SECURITY_POLICY_EXCEPTIONS that the request's path starts with."""

    def process_response(self, request, response):
        if "Content-Security-Policy" not in response:
            policy = settings.CONTENT_SECURITY_POLICY
            for prefix, other in getattr(settings, "CONTENT_SECURITY_POLICY_EXCEPTIONS", {}).items():
                if request.path.startswith(prefix):
                    policy = other
                    break
            response["Content-Security-Policy"] = policy
        return response


def _duration(delta: timedelta) -> str:
    """15 minutes, 1 hour, 90 seconds: how long a lock-out lasts, in words."""
    seconds = int(delta.total_seconds())
    if seconds and seconds % 3600 == 0:
        count, unit = seconds // 3600, "hour"
    elif seconds and seconds % 60 == 0:
        count, unit = seconds // 60, "minute"
    else:
        count, unit = seconds, "second"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def lockout_message() -> str:
    return (
        f"Too many failed sign-ins for this username from your address: signing in is locked for "
        f"{_duration(settings.AXES_COOLOFF_TIME)} after the last attempt. Wait and try again, or ask "
        f"an admin to lift the lock (python manage.py axes_reset)."
    )


def lockout_response(request, *args, **kwargs):
    """The sign-in page, status 429, saying how long the lock lasts and what to do. Axes calls it
    with (request, response, credentials) or, on its async path, (request, credentials)."""
    username = request.POST.get("username", "") if request.method == "POST" else ""
    form = AuthenticationForm(request, initial={"username": username})
    context = {"form": form, "locked_out": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)
