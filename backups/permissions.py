"""Roles: `viewer` reads, `operator` also defines, previews, triggers and deletes backups, `admin`
also manages clusters, storage locations and users. Superusers are admins. Groups are created by
migration 0003; a signed-in user with no role sees nothing.

Backup contents are a right of their own: a tarball holds every backed-up object (Secrets
included) and hook output can print anything. Operators and admins have it; a viewer has it once an
admin ticks *downloads* for them in Settings (the `downloader` group, made when first granted).
The README's "Who may see what" is the table of all this."""

from __future__ import annotations

from functools import wraps
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.module_loading import import_string

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
DOWNLOADER = "downloader"
ROLES = (VIEWER, OPERATOR, ADMIN)
_RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}


def role_of(user) -> str | None:
    """The highest role of `user`, or None (anonymous, inactive, or in no role group)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return ADMIN
    cached = getattr(user, "_veloweb_role", False)
    if cached is not False:
        return cached
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    role = max(names, key=_RANK.__getitem__) if names else None
    user._veloweb_role = role
    return role


def assigned_role(user) -> str | None:
    """The role `user` was given, active or not (Settings shows a disabled user's role)."""
    if user.is_superuser:
        return ADMIN
    names = {group.name for group in user.groups.all()} & set(ROLES)
    return max(names, key=_RANK.__getitem__) if names else None


def has_role(user, role: str) -> bool:
    current = role_of(user)
    return current is not None and _RANK[current] >= _RANK[role]


def can_view(user) -> bool:
    return has_role(user, VIEWER)


def can_operate(user) -> bool:
    return has_role(user, OPERATOR)


def can_administer(user) -> bool:
    return has_role(user, ADMIN)


def can_download(user) -> bool:
    """Whether `user` may download tarballs and read hook output: operators, admins, and viewers
    in the `downloader` group."""
    if has_role(user, OPERATOR):
        return True
    if not has_role(user, VIEWER):
        return False
    cached = getattr(user, "_veloweb_downloader", None)
    if cached is None:
        cached = user._veloweb_downloader = user.groups.filter(name=DOWNLOADER).exists()
    return cached


def session_user(session_key: str | None):
    """The user signed in by `session_key` as of now, read afresh from the session store and the
    database (AnonymousUser once that session ended: logged out, expired, flushed, password
    changed). For long-lived connections, which pass the request-time checks only once."""
    if not session_key:
        from django.contrib.auth.models import AnonymousUser

        return AnonymousUser()
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    return auth.get_user(SimpleNamespace(session=store))


def role_required(role: str):
    """Sign-in first (redirect to the login page), then 403 without `role`."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"this needs the {role} role")
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


viewer_required = role_required(VIEWER)
operator_required = role_required(OPERATOR)
admin_required = role_required(ADMIN)
