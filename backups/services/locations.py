"""Storage locations as admins manage them: the access check (Velero's BSL availability), the one
default location, and credentials shown only masked. Credentials never leave `location.store()`:
every message here comes from the store, which names the location and the cause, never the secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import Case, Value, When
from django.utils import timezone

from backups.engine.storage import StorageError
from backups.models import StorageLocation
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


def access_problem(location: StorageLocation, create: bool = False) -> str:
    """Why the location cannot be read (or, unless read-only, written); "" when it can. `create`
    makes a missing local folder (saving the form), never done by checks after that."""
    try:
        location.store().check(create=create)
    except (StorageError, ValueError) as error:
        return str(error)
    return ""


def check_access(location: StorageLocation, now=None) -> str:
    """Check the location now and record the result on it (available, last checked, last error)."""
    problem = access_problem(location)
    location.available = not problem
    location.last_checked = now or timezone.now()
    location.last_check_error = problem
    if location.pk:
        StorageLocation.objects.filter(pk=location.pk).update(
            available=location.available,
            last_checked=location.last_checked,
            last_check_error=problem,
        )
    if problem:
        log.warning("storage location %s is unavailable: %s", location.name, problem)
    else:
        log.info("storage location %s is available", location.name)
    return problem


class ReadOnlyDefault(ValueError):
    """A read-only location cannot be the default: every backup would fail validation."""


def set_default(location: StorageLocation) -> None:
    """Make `location` the only default, in one UPDATE statement (never zero or two defaults)."""
    if location.read_only:
        raise ReadOnlyDefault(
            f"{location.name} is read-only: it cannot be the default, every backup (scheduled ones too) "
            "would fail validation"
        )
    StorageLocation.objects.update(default=Case(When(pk=location.pk, then=Value(True)), default=Value(False)))
    location.default = True
