"""Storage locations as admins manage them: the access check (Velero's BSL availability), the one
default location, and credentials shown only masked. Credentials never leave `location.store()`:
every message here comes from the store, which names the location and the cause, never the secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, Value, When

from backups.models import StorageLocation
from backups.services import audit
from veloweb.crypto import Unreadable

log = logging.getLogger(__name__)


def masked(value: str) -> str:
    """`••••WXYZ`: enough to tell keys apart, not enough to use one."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) > 8 else "")


@dataclass
class CredentialsShown:
    """What pages show of a location's credentials: the masked key id, whether a secret is set,
    or why they cannot be read (sealed under another SECRET_KEY)."""

    access_key: str = ""
    secret_set: bool = False
    problem: str = ""


def credentials_shown(location: StorageLocation) -> CredentialsShown:
    try:
        credentials = location.credentials()
    except Unreadable as error:
        return CredentialsShown(problem=str(error))
    return CredentialsShown(masked(credentials.access_key_id), bool(credentials.secret_access_key))


class ReadOnlyDefault(ValueError):
    """A read-only location cannot be the default: every backup would fail validation."""


def set_default(location: StorageLocation) -> None:
    """Make `location` the only default, in one UPDATE statement (never zero or two defaults)."""
    if location.read_only:
        raise ReadOnlyDefault(
            f"{location.name} is read-only: it cannot be the default, every backup (scheduled ones too) "
            "would fail validation"
        )
    was_default = StorageLocation.objects.filter(pk=location.pk, default=True).exists()
    StorageLocation.objects.update(default=Case(When(pk=location.pk, then=Value(True)), default=Value(False)))
    location.default = True
    if not was_default:
        audit.record(audit.LOCATION_DEFAULT, location)


def location_save(location: StorageLocation) -> StorageLocation:
    """Save a location (checked by its form); a new default replaces the old one in the same
    transaction, so there is always exactly one."""
    stored = StorageLocation.objects.filter(pk=location.pk).first() if location.pk else None
    credentials_changed = stored is not None and _credentials(stored) != _credentials(location)
    with transaction.atomic():
        location.save()
        if location.default:
            set_default(location)
    after = _audited(location)
    if stored is None:
        audit.record(audit.LOCATION_CREATED, location, details=after)
    else:
        changed = audit.changes(_audited(stored), after)
        if credentials_changed:
            changed["credentials"] = ["(sealed)", "(changed)"]  # never the secrets, not even masked
        if changed:
            audit.record(audit.LOCATION_UPDATED, location, details={"changed": changed})
    return location


LOCATION_FIELDS = (
    "name",
    "provider",
    "path",
    "bucket",
    "prefix",
    "region",
    "endpoint_url",
    "default",
    "read_only",
)


def _credentials(location: StorageLocation):
    try:
        return location.credentials()
    except Unreadable:
        return None


def _audited(location: StorageLocation) -> dict:
    return {field: getattr(location, field) for field in LOCATION_FIELDS}
