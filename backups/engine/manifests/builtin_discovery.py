"""The discovery table of Kubernetes' built-in resources, for offline (manifests) mode.

The data lives in `builtin_resources` (the Kubernetes API emulator imports and serves the same table),
so the offline engine and the emulated cluster agree on names, scopes, verbs and order.
"""

from __future__ import annotations

from backups.engine.planning.resources import ResourceInfo, ResourceTable

from .discovery_table import BUILTIN_RESOURCES


def resource_info(entry: dict) -> ResourceInfo:
    """One discovery entry (`group`, `version`, `resource`, `kind`, `namespaced`, ...) as a ResourceInfo."""
    return ResourceInfo(
        group=entry["group"],
        version=entry["version"],
        resource=entry["resource"],
        kind=entry["kind"],
        namespaced=entry["namespaced"],
        short_names=tuple(entry.get("shortNames") or ()),
        verbs=tuple(entry.get("verbs") or ()),
        singular=entry.get("singularName") or "",
    )


def builtin_resource_table() -> ResourceTable:
    """Built-in resources at their preferred version, in the order a real API server's discovery lists them.

    The data lists a resource once per served version, preferred version first; discovery's
    preferred-resources answer (what Velero walks) has each resource once, so later versions are dropped.
    """
    seen: set[tuple[str, str]] = set()
    infos = []
    for entry in BUILTIN_RESOURCES:
        if "/" in entry["resource"] or (entry["group"], entry["resource"]) in seen:
            continue
        seen.add((entry["group"], entry["resource"]))
        infos.append(resource_info(entry))
    return ResourceTable(infos)


def builtin_served_kinds() -> set[tuple[str, str]]:
    """Every (apiVersion, kind) the built-in resources are served as, at every version (a new set)."""
    return set(_SERVED_KINDS)


_SERVED_KINDS = frozenset(
    (f"{e['group']}/{e['version']}" if e["group"] else e["version"], e["kind"])
    for e in BUILTIN_RESOURCES
    if "/" not in e["resource"]
)
