"""Users and roles as admins manage them in Settings: create, disable and enable, reset a password
(a one-time one, or one the admin sets), change a role. The roles are `permissions.ROLES` groups;
a change that would leave no active admin is refused (`LastAdmin`), so an admin cannot lock
everyone out by disabling or demoting themselves."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from backups.models import Account
from backups.permissions import ADMIN, DOWNLOADER, ROLES, VIEWER, role_of

ONE_TIME_PASSWORD_BYTES = 12  # 16 URL-safe characters


class UserProblem(ValueError):
    """A change refused; the message says why, nothing was changed."""


class LastAdmin(UserProblem):
    """The change would leave no active admin."""


def active_admins():
    User = get_user_model()
    return User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(groups__name=ADMIN)).distinct()


def _refuse_last_admin(user, doing: str) -> None:
    if role_of(user) == ADMIN and not active_admins().exclude(pk=user.pk).exists():
        raise LastAdmin(
            f"{user.get_username()} is the last active admin: {doing} would leave nobody to manage Veloweb"
        )


def one_time_password() -> str:
    return secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)


def _checked_password(password: str, user) -> str:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise UserProblem(" ".join(error.messages)) from None
    return password


def _must_change(user, flag: bool) -> None:
    Account.objects.update_or_create(user=user, defaults={"must_change_password": flag})


@transaction.atomic
def create_user(username: str, role: str, password: str = ""):
    """A new active user with `role` ("" for none yet). Without a `password`, a one-time one to
    be changed at the first sign-in. Returns (user, the one-time password or "")."""
    User = get_user_model()
    username = username.strip()
    if not username:
        raise UserProblem("a username is required")
    try:
        User.username_validator(username)
    except ValidationError as error:
        raise UserProblem(" ".join(error.messages)) from None
    if len(username) > 150:
        raise UserProblem("a username has at most 150 characters")
    if User.objects.filter(username__iexact=username).exists():
        raise UserProblem(f"a user named {username!r} exists already")
    if role and role not in ROLES:
        raise UserProblem(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    user = User(username=username)
    shown = ""
    if password:
        user.set_password(_checked_password(password, user))
    else:
        shown = one_time_password()
        user.set_password(shown)
    user.save()
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    _must_change(user, not password)
    return user, shown


@transaction.atomic
def set_active(user, active: bool, by) -> None:
    """Disable (sign-in refused, open sessions and sockets end at their next request) or enable."""
    if not active:
        _refuse_last_admin(user, "disabling them")
    user.is_active = active
    user.save(update_fields=["is_active"])


@transaction.atomic
def reset_password(user, password: str = "") -> str:
    """Set `password` (checked by the password rules), or a one-time one that must be changed at
    the next sign-in, returned to be shown once. Either way the user's sessions end (Django ties
    them to the password)."""
    if password:
        user.set_password(_checked_password(password, user))
        user.save(update_fields=["password"])
        _must_change(user, False)
        return ""
    shown = one_time_password()
    user.set_password(shown)
    user.save(update_fields=["password"])
    _must_change(user, True)
    return shown


@transaction.atomic
def change_role(user, role: str, downloader: bool = False) -> str:
    """Give `user` the role ("" for no access; a viewer may also get the download right). A
    superuser is always an admin. Returns the sentence that says what changed."""
    if role and role not in ROLES:
        raise UserProblem(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if user.is_superuser:
        raise UserProblem(
            f"{user.get_username()} is a superuser, always an admin (change it in the Django admin)"
        )
    if role != ADMIN:
        _refuse_last_admin(user, "taking the admin role from them")
    user.groups.remove(*Group.objects.filter(name__in=(*ROLES, DOWNLOADER)))
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    downloads = role == VIEWER and downloader
    if downloads:
        user.groups.add(Group.objects.get_or_create(name=DOWNLOADER)[0])
    for cached in ("_veloweb_role", "_veloweb_downloader"):
        user.__dict__.pop(cached, None)
    return f"{user.get_username()} is now {role or 'without access'}" + (
        " and may download tarballs and read hook output." if downloads else "."
    )


def must_change_password(user) -> bool:
    return Account.objects.filter(user=user, must_change_password=True).exists()


def password_changed(user) -> None:
    """The user chose a password of their own: the one-time one is gone."""
    Account.objects.filter(user=user).update(must_change_password=False)
