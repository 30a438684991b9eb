"""Users' roles as admins set them in Settings (groups `viewer`, `operator`, `admin`, and
`downloader` for a viewer who may download tarballs)."""

from __future__ import annotations

from contextvars import ContextVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from backups.permissions import DOWNLOADER, ROLES, VIEWER, can_download, role_of
from backups.services import audit


def set_role(user, role: str, downloader: bool = False, via_sso: bool = False) -> bool:
    """Give `user` exactly `role` ("" for no access) and, for a viewer, the download right;
    superusers are left alone (False). Recorded when it changed."""
    if user.is_superuser:
        return False
    before = (role_of(user) or "", can_download(user))
    downloads = role == VIEWER and downloader
    token = _setting_role.set(True)  # recorded once below, not group by group
    try:
        with transaction.atomic():
            user.groups.remove(*Group.objects.filter(name__in=(*ROLES, DOWNLOADER)))
            if role:
                user.groups.add(Group.objects.get_or_create(name=role)[0])
            if downloads:
                user.groups.add(Group.objects.get_or_create(name=DOWNLOADER)[0])
    finally:
        _setting_role.reset(token)
    for cached in ("_veloweb_role", "_veloweb_downloader"):
        user.__dict__.pop(cached, None)
    after = (role or "", can_download(user))
    if after != before:
        details = {"role": [before[0], after[0]], "downloads": [before[1], after[1]]}
        if via_sso:
            details["from"] = "sso group claim"
        audit.record(audit.USER_ROLE, user, object_name=user.get_username(), details=details)
    return True


# --- changes made elsewhere (the Django admin, `createsuperuser`, a shell) ---------------------------

_setting_role: ContextVar[bool] = ContextVar("veloweb_setting_role", default=False)


def _user_saved(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        details = {"superuser": instance.is_superuser, "staff": instance.is_staff}
        audit.record(audit.USER_CREATED, instance, object_name=instance.get_username(), details=details)


def _user_deleted(sender, instance, **kwargs):
    audit.record(
        audit.USER_DELETED, instance, object_name=instance.get_username(), object_id=str(instance.pk)
    )


def _groups_changed(sender, instance, action, pk_set, reverse=False, **kwargs):
    """Groups added to or removed from a user other than by `set_role` (the admin's user page)."""
    if _setting_role.get() or reverse or action not in ("post_add", "post_remove", "post_clear"):
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
