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
from backups.engine.planning.label_selectors import label_key_problem
from backups.engine.planning.spec import DEFAULT_VOLUME_GROUP_LABEL_KEY, BackupSpec, spec_errors
from backups.engine.restore import RestoreSpec, restore_spec_problems
from backups.engine.running.hook_spec import parse_resource_hooks
from backups.models import BackupDefinition

BACKUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BACKUP_NAME_MAX = 63  # a Kubernetes object name label, and Velero's Backup name
# Definition names leave room for the `-YYYYmmddHHMMSS` of their runs.
DEFINITION_NAME_MAX = 48
MAX_WORKERS = 64
HOOKS_CONCURRENCY = ("concurrent", "sequential")  # models.VeleroSpec.hooks_concurrency


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __post_init__(self) -> None:
        # one line whatever the input quoted in it held: it is printed, stored and shown as is
        object.__setattr__(self, "message", _one_line(self.message))

    def __str__(self) -> str:
        return self.message


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


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


LIST_FIELDS = (
    "included_namespaces",
    "excluded_namespaces",
    "included_resources",
    "excluded_resources",
    "included_cluster_scoped_resources",
    "excluded_cluster_scoped_resources",
    "included_namespace_scoped_resources",
    "excluded_namespace_scoped_resources",
    "or_label_selectors",
)


def backup_spec(fields: Mapping[str, Any]) -> BackupSpec:
    """The engine's view of a backup's options (the `VeleroSpec` model fields)."""
    lists = {name: list(fields.get(name) or []) for name in LIST_FIELDS}
    lists["included_namespaces"] = lists["included_namespaces"] or ["*"]
    lists["included_resources"] = lists["included_resources"] or ["*"]
    return BackupSpec(
        **lists,
        include_cluster_resources=fields.get("include_cluster_resources"),
        label_selector=fields.get("label_selector") or None,
        ordered_resources={k: list(v) for k, v in (fields.get("ordered_resources") or {}).items()},
        volume_group_label_key=fields.get("volume_group_label_key") or DEFAULT_VOLUME_GROUP_LABEL_KEY,
        resource_policy=fields.get("resource_policy") or None,
    )


class UnstorableValue(ValueError):
    """A value no database can keep (PostgreSQL refuses NUL in text and JSON): nothing is saved."""


def unstorable(fields: Mapping[str, Any]) -> list[Problem]:
    """The options holding a NUL character anywhere (in text, lists, maps, keys): refused like a
    bad name, since not even a FailedValidation backup can be stored with them."""

    def has_nul(value: Any) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(has_nul(k) or has_nul(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(has_nul(v) for v in value)
        return False

    return [
        Problem(field, f"invalid {field.replace('_', ' ')}: it contains a NUL character")
        for field, value in fields.items()
        if field != "storage_location" and has_nul(value)
    ]


def backup_problems(fields: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a backup's options (the `VeleroSpec` model fields, plus `storage_location`
    as an object or None); an empty list when the backup can be queued. What Velero's controller
    refuses is the engine's `spec_errors`; the rest (types, durations, hooks, limits) is here."""
    problems: list[Problem] = unstorable(fields)
    typed = all([_strings(fields, name, problems) is not None for name in LIST_FIELDS])
    for field in ("include_cluster_resources", "snapshot_volumes"):
        if fields.get(field) not in (None, True, False):
            problems.append(
                Problem(field, f"invalid {field.replace('_', ' ')}: expected true, false or unset")
            )
    for field in ("label_selector", "resource_policy", "volume_group_label_key"):
        if not isinstance(fields.get(field) or "", str):
            typed = False
            problems.append(Problem(field, f"invalid {field.replace('_', ' ')}: expected text"))
    ordered = fields.get("ordered_resources") or {}
    if not isinstance(ordered, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
        for k, v in ordered.items()
    ):
        typed = False
        problems.append(
            Problem("ordered_resources", "invalid ordered resources: expected a map of resource to names")
        )
    if typed:
        seen = set()
        for field, message in spec_errors(backup_spec(fields)):
            if (field, message) not in seen:
                seen.add((field, message))
                problems.append(Problem(field, message))
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
    if isinstance(key, str) and key and (problem := label_key_problem(key)):
        problems.append(Problem("volume_group_label_key", f"invalid volume group label {problem}"))
    workers = fields.get("workers", 4)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        problems.append(
            Problem("workers", f"invalid workers {workers!r}: a whole number from 1 to {MAX_WORKERS}")
        )
    concurrency = fields.get("hooks_concurrency", "concurrent")
    if concurrency not in HOOKS_CONCURRENCY:
        problems.append(
            Problem(
                "hooks_concurrency",
                f"invalid hooks concurrency {str(concurrency)[:40]!r}: "
                f"expected {' or '.join(HOOKS_CONCURRENCY)}",
            )
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


def spec_of(backup) -> BackupSpec:
    """The engine's view of a backup's (or a definition's) options."""
    return backup_spec(spec_fields(backup))


def spec_fields(backup) -> dict:
    """The options of a backup or definition as `validation.backup_problems` reads them."""
    names = (name for name in BackupDefinition.SPEC_FIELDS if name != "storage_location_id")
    return {**{name: getattr(backup, name) for name in names}, "storage_location": backup.storage_location}


# --- restores ---------------------------------------------------------------------------------

RESTORE_LIST_FIELDS = (
    "included_namespaces",
    "excluded_namespaces",
    "included_resources",
    "excluded_resources",
    "or_label_selectors",
    "status_included_resources",
    "status_excluded_resources",
    "priorities",
)


def restore_spec(fields: Mapping[str, Any], backup_name: str) -> RestoreSpec:
    """The engine's view of a restore's options (the `Restore.OPTION_FIELDS`, selectors in
    kubectl's text form). Raises InvalidSelector for a selector that does not parse."""
    from backups.engine.planning.label_selectors import label_selector_object

    status_in = list(fields.get("status_included_resources") or [])
    status_out = list(fields.get("status_excluded_resources") or [])
    hooks = (fields.get("hooks") or {}).get("resources")
    priorities = fields.get("priorities") or []
    return RestoreSpec(
        backup_name=backup_name,
        included_namespaces=tuple(fields.get("included_namespaces") or ["*"]),
        excluded_namespaces=tuple(fields.get("excluded_namespaces") or []),
        included_resources=tuple(fields.get("included_resources") or ["*"]),
        excluded_resources=tuple(fields.get("excluded_resources") or []),
        include_cluster_resources=fields.get("include_cluster_resources"),
        label_selector=label_selector_object(fields.get("label_selector") or None),
        or_label_selectors=tuple(
            label_selector_object(s) or {} for s in fields.get("or_label_selectors") or []
        ),
        namespace_mapping=dict(fields.get("namespace_mapping") or {}),
        restore_pvs=fields.get("restore_pvs"),
        existing_resource_policy=fields.get("existing_resource_policy") or "none",
        preserve_node_ports=fields.get("preserve_node_ports"),
        restore_status={"included_resources": status_in, "excluded_resources": status_out}
        if status_in or status_out
        else None,
        resource_modifiers=fields.get("resource_modifiers") or None,
        priorities=tuple(priorities) if priorities else None,
        hooks=tuple(hooks) if hooks is not None else None,
        workers=fields.get("workers", 4),
    )


# the engine names a few fields after Velero's spec; the model (and the form) after the option
_RESTORE_FIELD_OF = {"restore_status": "status_included_resources", "backup_name": "backup"}


def restore_problems(fields: Mapping[str, Any], backup_name: str) -> list[Problem]:
    """Every problem of a restore's options (`Restore.OPTION_FIELDS`), each under its field:
    types here, Velero's refusals in the engine's `restore_spec_problems`."""
    from backups.engine.planning.label_selectors import InvalidSelector, parse_selector

    problems: list[Problem] = unstorable(fields)
    typed = all([_strings(fields, name, problems) is not None for name in RESTORE_LIST_FIELDS])
    for field in ("include_cluster_resources", "restore_pvs", "preserve_node_ports"):
        if fields.get(field) not in (None, True, False):
            typed = False
            problems.append(
                Problem(field, f"invalid {field.replace('_', ' ')}: expected true, false or unset")
            )
    for field in ("label_selector", "resource_modifiers", "existing_resource_policy"):
        if not isinstance(fields.get(field) or "", str):
            typed = False
            problems.append(Problem(field, f"invalid {field.replace('_', ' ')}: expected text"))
    mapping = fields.get("namespace_mapping") or {}
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        typed = False
        problems.append(Problem("namespace_mapping", "invalid namespace mapping: expected old:new pairs"))
    hooks = fields.get("hooks") or {}
    if (
        not isinstance(hooks, dict)
        or set(hooks) - {"resources"}
        or not isinstance(hooks.get("resources", []), list)
    ):
        typed = False
        problems.append(Problem("hooks", 'invalid hooks: expected {"resources": [...]}'))
    workers = fields.get("workers", 4)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        typed = False
        problems.append(
            Problem("workers", f"invalid workers {workers!r}: a whole number from 1 to {MAX_WORKERS}")
        )
    if not typed or problems:
        return problems
    selectors = [("label_selector", fields.get("label_selector") or "")]
    selectors += [("or_label_selectors", text) for text in fields.get("or_label_selectors") or []]
    for field, text in selectors:
        try:
            parse_selector(text)
        except InvalidSelector as error:
            problems.append(Problem(field, str(error)))
    if problems:
        return problems
    seen = set()
    for field, message in restore_spec_problems(restore_spec(fields, backup_name)):
        field = _RESTORE_FIELD_OF.get(field, field)
        if (field, message) not in seen:
            seen.add((field, message))
            problems.append(Problem(field, message))
    return problems
