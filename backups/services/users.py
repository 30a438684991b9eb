"""Users' roles as admins set them in Settings (groups `viewer`, `operator`, `admin`, and
`downloader` for a viewer who may download tarballs)."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from backups.permissions import DOWNLOADER, ROLES, VIEWER, can_download, role_of
from backups.services import audit


def set_role(user, role: str, downloader: bool = False, via_sso: bool = False) -> bool:
    """Give `user` exactly `role` ("" for no access) and, for a viewer, the download right;
    superusers are left alone (False). Recorded when it changed."""
    if user.is_superuser:
        return False
    before = (role_of(user) or "", can_download(user))
    downloads = role == VIEWER and downloader
    with transaction.atomic():
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
        if via_sso:
            details["from"] = "sso group claim"
        audit.record(audit.USER_ROLE, user, object_name=user.get_username(), details=details)
    return True
