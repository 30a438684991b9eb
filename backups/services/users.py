"""Users and roles as admins manage them in Settings: create, disable and enable, reset a password
(a one-time one, or one the admin sets), change a role. The roles are `permissions.ROLES` groups;
a change that would leave no active admin is refused (`LastAdmin`), so an admin cannot lock
everyone out by disabling or demoting themselves. Every change is in the audit trail; changes made
elsewhere (the Django admin, `createsuperuser`, SSO's new users) are recorded from the model's
signals (`connect`)."""

from __future__ import annotations

import contextlib
import secrets
from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from backups.models import Account
from backups.permissions import ADMIN, DOWNLOADER, ROLES, VIEWER, can_download, role_of
from backups.services import audit

ONE_TIME_PASSWORD_BYTES = 12  # 16 URL-safe characters


class UserProblem(ValueError):
    """A change refused; the message says why, nothing was changed."""


class LastAdmin(UserProblem):
    """The change would leave no active admin."""


def active_admins():
    User = get_user_model()
    return User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(groups__name=ADMIN)).distinct()


def _refuse_last_admin(user, doing: str) -> None:
    """Raise LastAdmin when `user` is the only active admin left. Called inside the change's
    transaction; the admin group's row is locked first, so that two admins demoting each other at
    once are counted one after the other (PostgreSQL; SQLite's transactions already are)."""
    Group.objects.select_for_update().filter(name=ADMIN).first()
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
    with _recording():
        user.save()
        if role:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
    _must_change(user, not password)
    details = {"role": role, "one_time_password": not password}
    audit.record(audit.USER_CREATED, user, object_name=user.get_username(), details=details)
    return user, shown


@transaction.atomic
def set_active(user, active: bool, by) -> None:
    """Disable (sign-in refused, open sessions and sockets end at their next request) or enable."""
    if not active:
        _refuse_last_admin(user, "disabling them")
    changed = user.is_active != active
    user.is_active = active
    user.save(update_fields=["is_active"])
    if changed:
        action = audit.USER_ENABLED if active else audit.USER_DISABLED
        audit.record(action, user, object_name=user.get_username())


@transaction.atomic
def reset_password(user, password: str = "") -> str:
    """Set `password` (checked by the password rules), or a one-time one that must be changed at
    the next sign-in, returned to be shown once. Either way the user's sessions end (Django ties
    them to the password)."""
    if password:
        user.set_password(_checked_password(password, user))
        user.save(update_fields=["password"])
        _must_change(user, False)
        audit.record(audit.USER_PASSWORD, user, object_name=user.get_username(), details={"one_time": False})
        return ""
    shown = one_time_password()
    user.set_password(shown)
    user.save(update_fields=["password"])
    _must_change(user, True)
    audit.record(audit.USER_PASSWORD, user, object_name=user.get_username(), details={"one_time": True})
    return shown


@transaction.atomic
def change_role(user, role: str, downloader: bool = False, source: str = "") -> str:
    """Give `user` the role ("" for no access; a viewer may also get the download right). A
    superuser is always an admin. Returns the sentence that says what changed; recorded (with
    `source`, e.g. the SSO groups claim) when something did."""
    if role and role not in ROLES:
        raise UserProblem(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if user.is_superuser:
        raise UserProblem(
            f"{user.get_username()} is a superuser, always an admin (change it in the Django admin)"
        )
    if role != ADMIN:
        _refuse_last_admin(user, "taking the admin role from them")
    before = (role_of(user) or "", can_download(user))
    downloads = role == VIEWER and downloader
    with _recording():  # one entry below, not one per group
        user.groups.remove(*Group.objects.filter(name__in=(*ROLES, DOWNLOADER)))
        if role:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        if downloads:
            user.groups.add(Group.objects.get_or_create(name=DOWNLOADER)[0])
    for cached in ("_veloweb_role", "_veloweb_downloader"):
        user.__dict__.pop(cached, None)
    after = (role or "", can_download(user))
    if after != before:
        details = {"role": [before[0], after[0]], "downloads": [before[1], after[1]]}
        if source:
            details["from"] = source
        audit.record(audit.USER_ROLE, user, object_name=user.get_username(), details=details)
    return f"{user.get_username()} is now {role or 'without access'}" + (
        " and may download tarballs and read hook output." if downloads else "."
    )


def must_change_password(user) -> bool:
    return Account.objects.filter(user=user, must_change_password=True).exists()


def password_changed(user) -> None:
    """The user chose a password of their own: the one-time one is gone."""
    Account.objects.filter(user=user).update(must_change_password=False)


# --- changes made elsewhere (the Django admin, `createsuperuser`, SSO) ------------------------------

_recorded_here: ContextVar[bool] = ContextVar("veloweb_users_recorded_here", default=False)


@contextlib.contextmanager
def _recording():
    """The service records this change itself: the model signals below stay quiet."""
    token = _recorded_here.set(True)
    try:
        yield
    finally:
        _recorded_here.reset(token)


def _user_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw and not _recorded_here.get():
        details = {"superuser": instance.is_superuser, "staff": instance.is_staff}
        audit.record(audit.USER_CREATED, instance, object_name=instance.get_username(), details=details)


def _user_deleted(sender, instance, **kwargs):
    audit.record(
        audit.USER_DELETED, instance, object_name=instance.get_username(), object_id=str(instance.pk)
    )


def _groups_changed(sender, instance, action, pk_set, reverse=False, **kwargs):
    """Groups added to or removed from a user other than by this module (the admin's user page)."""
    if _recorded_here.get() or reverse or action not in ("post_add", "post_remove", "post_clear"):
        return
    names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    details = {"added" if action == "post_add" else "removed": names or "all"}
    audit.record(audit.USER_GROUPS, instance, object_name=instance.get_username(), details=details)


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="veloweb-audit-user-saved")
    post_delete.connect(_user_deleted, sender=user_model, dispatch_uid="veloweb-audit-user-deleted")
    m2m_changed.connect(
        _groups_changed, sender=user_model.groups.through, dispatch_uid="veloweb-audit-groups"
    )
