"""One validation layer for a backup's options: the define form, the CLI, schedules, imports and
the services all ask `backup_problems`, so a value refused in one place is refused everywhere.

Each problem is a (field, message) pair: the field is the model field it belongs to (the form
puts the message under that input, the CLI prints it, a FailedValidation backup stores it). The
checks need no cluster: what only the cluster can tell (does a namespace exist, is a resource
served) is a warning found when the backup is planned or previewed, as in Velero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backups.engine.durations import CSI_SNAPSHOT_TIMEOUT, TTL
from backups.engine.filters import NamespaceFilter
from backups.engine.hooks import parse_resource_hooks
from backups.engine.selectors import parse_selector
from backups.engine.spec import SpecError

BACKUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BACKUP_NAME_MAX = 63  # a Kubernetes object name label, and Velero's Backup name
# Definition names leave room for the `-YYYYmmddHHMMSS` of their runs.
DEFINITION_NAME_MAX = 48
MAX_WORKERS = 64
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


class InvalidName(ValueError):
    """A backup name that cannot be used: nothing is saved under it (it names folders and keys)."""


def name_problem(name: Any, what: str = "name", limit: int = BACKUP_NAME_MAX) -> str | None:
    """Why `name` cannot name a backup (or a definition, with its own `limit`), or None."""
    if not isinstance(name, str) or not name:
        return f"invalid {what}: a name is required"
    if len(name) > limit:
        return f"invalid {what} {name[:80]!r}: at most {limit} characters"
    if not BACKUP_NAME.match(name):
        return (
            f"invalid {what} {name[:80]!r}: lower-case letters, digits and '-', starting and ending with "
            "a letter or digit"
        )
    return None


def check_name(name: Any) -> str:
    """`name` if it can name a backup, else InvalidName saying why."""
    problem = name_problem(name)
    if problem:
        raise InvalidName(problem)
    return name


def _strings(fields: Mapping, field: str, problems: list[Problem]) -> list[str] | None:
    value = fields.get(field)
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(field, f"invalid {field.replace('_', ' ')}: expected a list of names"))
        return None
    return list(value)


def label_key_problem(key: str) -> str | None:
    """Kubernetes' qualified name rule for a label key: `[prefix/]name`."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"invalid label key {key!r}: the prefix must be a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return f"invalid label key {key!r}: at most 63 letters, digits, '-', '_' or '.'"
    return None


def backup_problems(fields: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a backup's options (the `VeleroSpec` model fields, plus `storage_location`
    as an object or None); an empty list when the backup can be queued."""
    problems: list[Problem] = []
    included = _strings(fields, "included_namespaces", problems)
    excluded = _strings(fields, "excluded_namespaces", problems)
    if included is not None and excluded is not None:
        try:
            NamespaceFilter.build(included, [])
        except SpecError as error:
            problems.append(Problem("included_namespaces", str(error)))
        else:  # the includes are fine: what is left is the excludes' (or the two together)
            try:
                NamespaceFilter.build(included, excluded)
            except SpecError as error:
                problems.append(Problem("excluded_namespaces", str(error)))
    included = _strings(fields, "included_resources", problems)
    excluded = _strings(fields, "excluded_resources", problems)
    if excluded and "*" in excluded:
        problems.append(Problem("excluded_resources", "invalid excluded resources: '*' cannot be excluded"))
    if included and len(included) > 1 and "*" in included:
        problems.append(
            Problem("included_resources", "invalid included resources: must either be '*' only, or names")
        )
    for field in ("include_cluster_resources", "snapshot_volumes"):
        if fields.get(field) not in (None, True, False):
            problems.append(
                Problem(field, f"invalid {field.replace('_', ' ')}: expected true, false or unset")
            )
    selector = fields.get("label_selector") or ""
    if not isinstance(selector, str):
        problems.append(Problem("label_selector", "invalid label selector: expected text"))
    elif selector:
        try:
            parse_selector(selector)
        except ValueError as error:
            problems.append(Problem("label_selector", str(error)))
    ordered = fields.get("ordered_resources") or {}
    if not isinstance(ordered, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
        for k, v in ordered.items()
    ):
        problems.append(
            Problem("ordered_resources", "invalid ordered resources: expected a map of resource to names")
        )
    _duration(fields, "ttl", TTL, "720h0m0s", problems)
    _duration(fields, "csi_snapshot_timeout", CSI_SNAPSHOT_TIMEOUT, "10m0s", problems)
    hooks = fields.get("hooks") or {}
    if not isinstance(hooks, dict) or set(hooks) - {"resources"}:
        problems.append(Problem("hooks", 'invalid hooks: expected {"resources": [...]}'))
    else:
        try:
            parse_resource_hooks(hooks.get("resources"))
        except ValueError as error:
            problems.append(Problem("hooks", str(error)))
    key = fields.get("volume_group_label_key") or ""
    if not isinstance(key, str):
        problems.append(Problem("volume_group_label_key", "invalid volume group label key: expected text"))
    elif key and (problem := label_key_problem(key)):
        problems.append(Problem("volume_group_label_key", f"volume group {problem}"))
    workers = fields.get("workers", 4)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        problems.append(
            Problem("workers", f"invalid workers {workers!r}: a whole number from 1 to {MAX_WORKERS}")
        )
    location = fields.get("storage_location")
    if location is not None and location.read_only:
        problems.append(
            Problem(
                "storage_location",
                f"storage location {location.name} is read-only: backups cannot be written",
            )
        )
    return problems


def _duration(fields: Mapping, field: str, limit, default: str, problems: list[Problem]) -> None:
    text = fields.get(field, default)
    if not isinstance(text, str):
        problems.append(
            Problem(field, f"invalid {limit.what} {text!r}: expected a duration such as {default}")
        )
        return
    try:
        limit.check(text)
    except ValueError as error:
        problems.append(Problem(field, f"invalid {limit.what} {text[:40]!r}: {error}"))
