"""Sign-ins, failed sign-ins and sign-outs in the audit trail, from Django's auth signals (sent
for the login form, django-axes' lock-outs and OpenID Connect alike); connected in `apps.ready`."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from backups.audit_context import Actor, client_address, user_actor
from backups.services import audit


def _via(request) -> str:
    """`sso` for an OpenID Connect sign-in (its callback path), else `web`."""
    return "sso" if request is not None and "/oidc/" in request.path else "web"


def logged_in(sender, request, user, **kwargs):
    address = client_address(request) if request is not None else None
    actor = user_actor(user, address, via=_via(request))
    audit.record(audit.LOGIN, user, actor=actor, object_name=user.get_username())


def logged_out(sender, request, user, **kwargs):
    if user is None:  # the session had expired: nobody to name
        return
    address = client_address(request) if request is not None else None
    audit.record(audit.LOGOUT, user, actor=user_actor(user, address), object_name=user.get_username())


def login_failed(sender, credentials, request=None, **kwargs):
    """The attempted username (Django has already masked the password), and whether django-axes
    refused it as locked out."""
    username = str(credentials.get("username") or "")[:150]
    address = client_address(request) if request is not None else None
    actor = Actor(username=username, address=address, via=_via(request))
    details = {"locked_out": bool(getattr(request, "axes_locked_out", False))}
    audit.record(audit.LOGIN_FAILED, actor=actor, kind="user", object_name=username, details=details)


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="veloweb-audit-login")
    user_logged_out.connect(logged_out, dispatch_uid="veloweb-audit-logout")
    user_login_failed.connect(login_failed, dispatch_uid="veloweb-audit-login-failed")
