"""Names inside a Velero backup: tar entry paths (format 1.1.0) and object-store keys.

Tar entries follow Velero's `pkg/archive/filesystem.go` GetVersionedItemFilePath; object-store keys follow
`pkg/persistence/object_store_layout.go` (spec part 2 (d)). Pure string functions, no I/O.
"""

from __future__ import annotations

from backups.engine.items import ItemKey

BACKUP_FORMAT_VERSION = "1.1.0"
VERSION_ENTRY = "metadata/version"
RESOURCES_DIR = "resources"
PREFERRED_VERSION_SUFFIX = "-preferredversion"  # velerov1api.PreferredVersionDir


class InvalidItemPath(ValueError):
    """A name no path in a backup can hold (`/`, `.`, `..`, empty): the item cannot be written."""


def _check_segment(value: str, what: str) -> None:
    if not value or "/" in value or value in (".", "..") or "\x00" in value:
        raise InvalidItemPath(f"invalid {what} for a backup path: {value!r}")


def item_path(key: ItemKey, version_dir: str = "") -> str:
    """`resources/<group_resource>/[<version_dir>/](namespaces/<ns>|cluster)/<name>.json`.

    Namespace objects are cluster-scoped (`resources/namespaces/cluster/<ns>.json`) even if a caller
    put the namespace's own name in `key.namespace`.
    """
    _check_segment(key.name, "name")
    is_namespace_object = key.group == "" and key.resource == "namespaces"
    if key.namespace and not is_namespace_object:
        _check_segment(key.namespace, "namespace")
        scope = f"namespaces/{key.namespace}"
    else:
        scope = "cluster"
    version = f"{version_dir}/" if version_dir else ""
    return f"{RESOURCES_DIR}/{key.group_resource}/{version}{scope}/{key.name}.json"


def item_entry_names(key: ItemKey, preferred: bool = True) -> list[str]:
    """The tar entries one object is written to, in Velero's order.

    At the server-preferred version: `<version>-preferredversion/` first, then the unversioned path
    (kept by Velero for backward compatibility), with identical bodies. Otherwise only `<version>/`
    (Velero's EnableAPIGroupVersions feature).
    """
    _check_segment(key.version, "version")
    if preferred:
        return [item_path(key, key.version + PREFERRED_VERSION_SUFFIX), item_path(key)]
    return [item_path(key, key.version)]


# --- object-store keys, under an optional backup-storage-location prefix -----------------------------


def backup_dir(name: str, prefix: str = "") -> str:
    """`[<prefix>/]backups/<name>/` (trailing slash, as Velero's getBackupDir)."""
    _check_segment(name, "backup name")
    prefix = prefix.strip("/")
    return f"{prefix}/backups/{name}/" if prefix else f"backups/{name}/"


# Velero's files of one backup in `backups/<name>/`, by kind (object_store_layout.go): the one
# table of their names, for the writer, the upload, the downloads and the CLI
BACKUP_FILES = {
    "metadata": "velero-backup.json",
    "tarball": "{name}.tar.gz",
    "log": "{name}-logs.gz",
    "results": "{name}-results.gz",
    "resource-list": "{name}-resource-list.json.gz",
    "volume-snapshots": "{name}-volumesnapshots.json.gz",
    "pod-volume-backups": "{name}-podvolumebackups.json.gz",
    "item-operations": "{name}-itemoperations.json.gz",
    "volume-info": "{name}-volumeinfo.json.gz",
}


# Our own files beside Velero's: Velero reads only the keys it knows, so it ignores these
EXTRA_FILES = {
    "index": "{name}-veloweb-index.tsv.gz",  # the tarball's index (`tarball_index`)
}


def backup_file_name(kind: str, name: str) -> str:
    """The file name of one of a backup's files (`BACKUP_FILES`, `EXTRA_FILES`), e.g. `shop-1-logs.gz`."""
    return (BACKUP_FILES.get(kind) or EXTRA_FILES[kind]).format(name=name)


def backup_file_key(kind: str, name: str, prefix: str = "") -> str:
    """`[<prefix>/]backups/<name>/<file name>`."""
    return backup_dir(name, prefix) + backup_file_name(kind, name)


def metadata_key(name: str, prefix: str = "") -> str:
    return backup_file_key("metadata", name, prefix)


def tarball_key(name: str, prefix: str = "") -> str:
    return backup_file_key("tarball", name, prefix)


def logs_key(name: str, prefix: str = "") -> str:
    return backup_file_key("log", name, prefix)


def results_key(name: str, prefix: str = "") -> str:
    return backup_file_key("results", name, prefix)


def resource_list_key(name: str, prefix: str = "") -> str:
    return backup_file_key("resource-list", name, prefix)


def volume_snapshots_key(name: str, prefix: str = "") -> str:
    return backup_file_key("volume-snapshots", name, prefix)


def pod_volume_backups_key(name: str, prefix: str = "") -> str:
    return backup_file_key("pod-volume-backups", name, prefix)


def item_operations_key(name: str, prefix: str = "") -> str:
    return backup_file_key("item-operations", name, prefix)


def volume_info_key(name: str, prefix: str = "") -> str:
    return backup_file_key("volume-info", name, prefix)


def parse_item_path(entry_name: str) -> dict | None:
    """Split a `resources/...` entry name; None for anything else (e.g. `metadata/version`).

    Returns `group_resource`, `version_dir` ("" for the unversioned copy), `preferred` (whether the
    entry is a `-preferredversion` copy), `namespace` ("" for cluster scope) and `name`.
    """
    parts = entry_name.split("/")
    if len(parts) < 4 or parts[0] != RESOURCES_DIR or not parts[-1].endswith(".json"):
        return None
    group_resource, rest = parts[1], parts[2:]
    version_dir = ""
    if rest[0] not in ("namespaces", "cluster"):
        version_dir, rest = rest[0], rest[1:]
    if len(rest) == 3 and rest[0] == "namespaces":
        namespace = rest[1]
    elif len(rest) == 2 and rest[0] == "cluster":
        namespace = ""
    else:
        return None
    return {
        "group_resource": group_resource,
        "version_dir": version_dir,
        "preferred": version_dir.endswith(PREFERRED_VERSION_SUFFIX),
        "namespace": namespace,
        "name": rest[-1][: -len(".json")],
    }


# --- a restore's files: `restores/<name>/` (object_store_layout.go getRestoreDir and friends) ---------

RESTORE_FILES = {
    "log": "restore-{name}-logs.gz",
    "results": "restore-{name}-results.gz",
    "resource-list": "restore-{name}-resource-list.json.gz",
}


def restore_dir(name: str, prefix: str = "") -> str:
    """`[<prefix>/]restores/<name>/` (trailing slash)."""
    _check_segment(name, "restore name")
    prefix = prefix.strip("/")
    return f"{prefix}/restores/{name}/" if prefix else f"restores/{name}/"


def restore_file_name(kind: str, name: str) -> str:
    """The file name of one of a restore's files (`RESTORE_FILES`), e.g. `restore-r1-logs.gz`."""
    return RESTORE_FILES[kind].format(name=name)


def restore_file_key(kind: str, name: str, prefix: str = "") -> str:
    """`[<prefix>/]restores/<name>/<file name>`."""
    return restore_dir(name, prefix) + restore_file_name(kind, name)
