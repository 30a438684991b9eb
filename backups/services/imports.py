"""Backups found in a storage location that the history does not know (written by Velero, or by
another Veloweb), and their import, so a fresh install sees the backups it already has.

`discover` lists a location's backups with what their `velero-backup.json` (Velero's Backup CR) says;
`import_backup` maps that CR back to our fields and saves it as an imported Backup (no cluster: the
one it came from is unknown). Reading is streamed: keys are listed, only the small JSON files are
read, and a tarball is only asked for its size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import DataError, IntegrityError, transaction

from backups.engine.durations import GO_DURATION
from backups.engine.planning.label_selectors import InvalidSelector, Selector
from backups.engine.storage import ObjectNotFoundError, StorageError
from backups.engine.velero_format.backup_json import RESOURCE_POLICY_ANNOTATION
from backups.engine.velero_format.layout import metadata_key, tarball_key
from backups.models import Backup, StorageLocation
from backups.services import audit

MAX_METADATA_BYTES = 16 * 1024 * 1024
MAX_COUNT = 2**31 - 1  # the counters' columns (PositiveIntegerField) on PostgreSQL
# A Kubernetes object name (DNS-1123 subdomain), as Velero's backups have, within our 63 characters.
BACKUP_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
SCHEDULE_LABEL = "velero.io/schedule-name"
GC_FAILURE_LABEL = "velero.io/gc-failure"
# Cancelled is ours (a cancelled backup uploads nothing): one found in a location did not finish
_TERMINAL = {phase.value for phase in Backup.TERMINAL} - {Backup.Phase.CANCELLED}

IMPORTABLE, IN_HISTORY, CONFLICT, UNREADABLE = "importable", "in history", "conflict", "unreadable"
INVALID_NAME = "invalid name"


class ImportProblem(ValueError):
    """A backup that cannot be imported; the message names the backup and says why."""


@dataclass
class Found:
    """One backup of a location, as `discover` sees it."""

    name: str
    status: str
    reason: str = ""
    phase: str = ""
    started: datetime | None = None
    expiration: datetime | None = None
    backup_id: int | None = None

    @property
    def importable(self) -> bool:
        return self.status == IMPORTABLE

    @property
    def shown(self) -> str:
        return shown(self.name)


@dataclass
class Imported:
    backup: Backup
    created: bool
    message: str


def name_problem(name: str) -> str:
    """Why a folder under `backups/` cannot be a backup's ("" when it can): Velero's backups are
    Kubernetes objects, so `.`, `..`, upper case, spaces or control characters name none."""
    if len(name) <= 63 and BACKUP_NAME.fullmatch(name):
        return ""
    return (
        f"{shown(name)} is not a valid backup name (lower-case letters, digits, '-' and '.', "
        "at most 63 characters)"
    )


def shown(name: str) -> str:
    """A name as pages and the shell show it: quoted and escaped unless it is a valid name, so
    control characters and undecodable bytes (a local folder's) never reach a terminal raw."""
    return name if len(name) <= 63 and BACKUP_NAME.fullmatch(name) else ascii(name)


def backup_names(location: StorageLocation) -> list[str]:
    """The names under `backups/` in the location (a key listing; StorageError if unreachable)."""
    return location.store().list_backups()


def discover(location: StorageLocation, names: Iterable[str] | None = None) -> list[Found]:
    """The location's backups (or only `names`), each importable, already in the history, in
    conflict with a backup of the same name from another location, or unreadable (with the reason)."""
    store = location.store()
    names = sorted(names) if names is not None else store.list_backups()
    valid = [name for name in names if not name_problem(name)]
    known = {
        name: (pk, location_id, location_name)
        for name, pk, location_id, location_name in Backup.objects.filter(name__in=valid).values_list(
            "name", "pk", "storage_location_id", "storage_location__name"
        )
    }
    found = []
    for name in names:
        problem = name_problem(name)
        if problem:
            found.append(Found(name, INVALID_NAME, problem))
            continue
        try:
            fields = backup_fields(read_metadata(store, name), name, location.name)
        except ImportProblem as problem:
            entry = Found(name, UNREADABLE, str(problem))
        else:
            entry = Found(
                name,
                IMPORTABLE,
                phase=fields["phase"],
                started=fields["started"],
                expiration=fields["expiration"],
            )
        if name in known:
            pk, location_id, location_name = known[name]
            entry.backup_id = pk
            if location_id == location.pk:
                entry.status, entry.reason = IN_HISTORY, ""
            else:
                entry.status = CONFLICT
                entry.reason = (
                    f"a backup named {name} is already in the history, "
                    f"stored in {location_name or 'no location'}"
                )
        found.append(entry)
    return found


def read_metadata(store, name: str) -> dict:
    """`backups/<name>/velero-backup.json`, parsed; ImportProblem when missing, too big or invalid."""
    key = metadata_key(name)
    try:
        with store.open(key) as stream:
            data = stream.read(MAX_METADATA_BYTES + 1)
    except ObjectNotFoundError:
        raise ImportProblem(f"backup {name}: velero-backup.json is missing") from None
    except StorageError as error:
        raise ImportProblem(f"backup {name}: velero-backup.json cannot be read: {error}") from None
    if len(data) > MAX_METADATA_BYTES:
        raise ImportProblem(f"backup {name}: velero-backup.json is larger than {MAX_METADATA_BYTES} bytes")
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise ImportProblem(f"backup {name}: velero-backup.json is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise ImportProblem(f"backup {name}: velero-backup.json is not a JSON object")
    return document


def backup_fields(cr: dict, name: str, location_name: str) -> dict:
    """Our Backup fields from Velero's Backup CR; ImportProblem naming the first bad field.

    A phase that is not terminal (the backup was still running, or being deleted, when its files
    were left there) becomes Failed, with a failure reason that says so.
    """
    kind, api = cr.get("kind"), cr.get("apiVersion")
    if kind != "Backup" or api != "velero.io/v1":
        raise ImportProblem(f"backup {name}: not a Velero Backup (kind {kind!r}, apiVersion {api!r})")
    metadata, spec, status = (_object(cr, part, name) for part in ("metadata", "spec", "status"))
    if metadata.get("name") not in (None, name):
        raise ImportProblem(f"backup {name}: velero-backup.json names backup {metadata.get('name')!r}")
    if len(name) > 63:
        raise ImportProblem(f"backup {name}: the name is longer than 63 characters")
    labels = metadata.get("labels") or {}
    if not isinstance(labels, dict):
        raise ImportProblem(f"backup {name}: metadata.labels must be an object")

    phase = _text(status, "phase", name)
    failure_reason = _text(status, "failureReason", name)
    if phase not in _TERMINAL:
        found = f"found in storage location {location_name} with phase {phase or '(none)'}"
        failure_reason = f"{found}: it did not finish where it ran" + (
            f" ({failure_reason})" if failure_reason else ""
        )
        phase = Backup.Phase.FAILED
    ordered = spec.get("orderedResources") or {}
    if not isinstance(ordered, dict) or not all(isinstance(v, str) for v in ordered.values()):
        raise ImportProblem(f"backup {name}: spec.orderedResources must map resources to 'ns/name,...'")
    hooks = spec.get("hooks") or {}
    if not isinstance(hooks, dict):
        raise ImportProblem(f"backup {name}: spec.hooks must be an object")
    return {
        "included_namespaces": _strings(spec, "includedNamespaces", name),
        "excluded_namespaces": _strings(spec, "excludedNamespaces", name),
        "included_resources": _strings(spec, "includedResources", name),
        "excluded_resources": _strings(spec, "excludedResources", name),
        "include_cluster_resources": _tri_state(spec, "includeClusterResources", name),
        "included_cluster_scoped_resources": _strings(spec, "includedClusterScopedResources", name),
        "excluded_cluster_scoped_resources": _strings(spec, "excludedClusterScopedResources", name),
        "included_namespace_scoped_resources": _strings(spec, "includedNamespaceScopedResources", name),
        "excluded_namespace_scoped_resources": _strings(spec, "excludedNamespaceScopedResources", name),
        "label_selector": _selector_text(spec, name),
        "or_label_selectors": _or_selectors(spec, name),
        "resource_policy": _resource_policy(metadata, name),
        "ordered_resources": {k: [p.strip() for p in v.split(",") if p.strip()] for k, v in ordered.items()},
        "hooks": hooks,
        "ttl": _duration(spec, "ttl", "720h0m0s", name),
        "csi_snapshot_timeout": _duration(spec, "csiSnapshotTimeout", "10m0s", name),
        "volume_group_label_key": _text(spec, "volumeGroupSnapshotLabelKey", name, 253)
        or "velero.io/volume-group",
        "snapshot_volumes": _tri_state(spec, "snapshotVolumes", name),
        "phase": phase,
        "failure_reason": failure_reason,
        "validation_errors": _strings(status, "validationErrors", name),
        "started": _time(status, "startTimestamp", name),
        "completed": _time(status, "completionTimestamp", name),
        "expiration": _time(status, "expiration", name),
        "total_items": _count(status.get("progress") or {}, "totalItems", name),
        "items_backed_up": _count(status.get("progress") or {}, "itemsBackedUp", name),
        "errors": _count(status, "errors", name),
        "warnings": _count(status, "warnings", name),
        "hooks_attempted": _count(status.get("hookStatus") or {}, "hooksAttempted", name),
        "hooks_failed": _count(status.get("hookStatus") or {}, "hooksFailed", name),
        "snapshots_attempted": _count(status, "csiVolumeSnapshotsAttempted", name),
        "snapshots_completed": _count(status, "csiVolumeSnapshotsCompleted", name),
        "created": _time(metadata, "creationTimestamp", name),
        "schedule_name": str(labels.get(SCHEDULE_LABEL) or "")[:63],
        "gc_failure": str(labels.get(GC_FAILURE_LABEL) or "")[:30],
    }


def import_backup(location: StorageLocation, name: str) -> Imported:
    """Save backup `name` of `location` in the history. Importing it again changes nothing and says
    so; ImportProblem when it is unreadable or another location's backup already has the name."""
    problem = name_problem(name)
    if problem:
        raise ImportProblem(f"backup {problem}")
    existing = Backup.objects.filter(name=name).select_related("storage_location").first()
    if existing is not None:
        return _already(existing, location)
    store = location.store()
    fields = backup_fields(read_metadata(store, name), name, location.name)
    try:
        fields["size_bytes"] = store.size(tarball_key(name))
    except ObjectNotFoundError:
        fields["size_bytes"] = 0
    except StorageError as error:
        raise ImportProblem(f"backup {name}: {error}") from None
    created = fields.pop("created") or fields["started"]
    try:
        with transaction.atomic():
            backup = Backup.objects.create(
                name=name, cluster=None, storage_location=location, imported=True, **fields
            )
            if created:  # in the history where it was made, not where it was found
                Backup.objects.filter(pk=backup.pk).update(created=created)
                backup.created = created
    except IntegrityError:  # imported (or created) at the same moment by someone else
        return _already(Backup.objects.select_related("storage_location").get(name=name), location)
    except DataError as error:  # a value the database cannot hold, that the checks above let through
        reason = " ".join(str(error).split())
        raise ImportProblem(f"backup {name}: the database refused it ({reason})") from None
    audit.record(audit.BACKUP_IMPORTED, backup, details={"location": location.name, "phase": backup.phase})
    return Imported(backup, True, f"Backup {name} imported from {location.name} ({backup.phase}).")


def import_all(location: StorageLocation) -> tuple[list[Imported], list[str]]:
    """Import every importable backup of the location; returns what was imported and, for every
    backup left out, why (already in the history, a conflict, unreadable)."""
    imported, skipped = [], []
    for found in discover(location):
        if found.status == INVALID_NAME:
            skipped.append(f"backup {found.reason}")
            continue
        if not found.importable:
            skipped.append(f"{found.name}: {found.reason or found.status}")
            continue
        try:
            result = import_backup(location, found.name)
        except ImportProblem as problem:
            skipped.append(str(problem))
            continue
        if result.created:
            imported.append(result)
        else:
            skipped.append(result.message)
    return imported, skipped


def _already(existing: Backup, location: StorageLocation) -> Imported:
    if existing.storage_location_id != location.pk:
        where = existing.storage_location.name if existing.storage_location else "no location"
        raise ImportProblem(
            f"backup {existing.name}: a backup with this name is already in the history, stored in {where}"
        )
    return Imported(existing, False, f"Backup {existing.name} is already in the history: nothing to import.")


# --- reading the CR's fields --------------------------------------------------------------------------


def _object(cr: dict, key: str, name: str) -> dict:
    value = cr.get(key) or {}
    if not isinstance(value, dict):
        raise ImportProblem(f"backup {name}: {key} must be an object")
    return value


def _strings(obj: dict, key: str, name: str) -> list[str]:
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImportProblem(f"backup {name}: {key} must be a list of strings")
    return value


def _text(obj: dict, key: str, name: str, longest: int | None = None) -> str:
    value = obj.get(key) or ""
    if not isinstance(value, str):
        raise ImportProblem(f"backup {name}: {key} must be a string")
    if longest is not None and len(value) > longest:
        raise ImportProblem(f"backup {name}: {key} is longer than {longest} characters")
    return value


def _tri_state(obj: dict, key: str, name: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise ImportProblem(f"backup {name}: {key} must be true or false")
    return value


def _count(obj, key: str, name: str) -> int:
    if not isinstance(obj, dict):
        raise ImportProblem(f"backup {name}: the status of {key} must be an object")
    value = obj.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ImportProblem(f"backup {name}: {key} must be a non-negative integer, not {_short(value)}")
    if value > MAX_COUNT:
        raise ImportProblem(f"backup {name}: {key} {value} is out of range (at most {MAX_COUNT})")
    return value


def _duration(obj: dict, key: str, default: str, name: str) -> str:
    value = _text(obj, key, name) or default
    try:
        GO_DURATION.check(value)  # 99999999h overflowed every date it was added to
    except ValueError as error:
        raise ImportProblem(f"backup {name}: {key} {_short(value)}: {error}") from None
    if len(value) > 30:  # the column's size; Go writes any valid duration in fewer characters
        raise ImportProblem(f"backup {name}: {key} {_short(value)} is longer than 30 characters")
    return value


def _time(obj: dict, key: str, name: str) -> datetime | None:
    value = _text(obj, key, name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ImportProblem(f"backup {name}: {key} {_short(value)} is not an RFC 3339 time") from None
    try:  # in UTC, as stored: an offset can carry year 1 or 9999 out of range
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError:
        raise ImportProblem(f"backup {name}: {key} {_short(value)} is out of range") from None


def _short(value) -> str:
    """A value from the file as a one-line message quotes it: repr, at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _selector_text(spec: dict, name: str) -> str:
    """The label selector in kubectl's text form."""
    if not spec.get("labelSelector"):
        return ""
    try:
        text = str(Selector.from_label_selector(spec["labelSelector"]))
    except InvalidSelector as error:
        raise ImportProblem(f"backup {name}: spec.labelSelector: {error}") from None
    if len(text) > 500:
        raise ImportProblem(f"backup {name}: the label selector is longer than 500 characters")
    return text


def _or_selectors(spec: dict, name: str) -> list[str]:
    """Velero's orLabelSelectors, each in kubectl's text form."""
    alternatives = spec.get("orLabelSelectors") or []
    if not isinstance(alternatives, list):
        raise ImportProblem(f"backup {name}: spec.orLabelSelectors must be a list")
    try:
        return [str(Selector.from_label_selector(s)) for s in alternatives]
    except InvalidSelector as error:
        raise ImportProblem(f"backup {name}: spec.orLabelSelectors: {error}") from None


def _resource_policy(metadata: dict, name: str) -> str:
    """The resource policy YAML a Veloweb backup keeps in an annotation. A Velero backup only names
    its ConfigMap (spec.resourcePolicy), whose content is in its cluster, not in the bucket."""
    annotations = metadata.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ImportProblem(f"backup {name}: metadata.annotations must be an object")
    return _text(annotations, RESOURCE_POLICY_ANNOTATION, name)
