"""API discovery: `/api`, `/api/v1`, then every `/apis` group at its preferred version."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import SourceError

# fetch(path) -> parsed JSON document; raises SourceError.
Fetch = Callable[[str], dict]

DISCOVERY_THREADS = 8


def parse_resource_list(doc: dict, group: str, version: str) -> list[ResourceInfo]:
    """The top-level resources of an APIResourceList (subresources such as `pods/log` skipped)."""
    out = []
    for entry in doc.get("resources") or []:
        name = entry.get("name") or ""
        if not name or "/" in name:
            continue
        out.append(
            ResourceInfo(
                group=group,
                version=version,
                resource=name,
                kind=entry.get("kind") or "",
                namespaced=bool(entry.get("namespaced")),
                short_names=tuple(entry.get("shortNames") or ()),
                verbs=tuple(entry.get("verbs") or ()),
                singular=entry.get("singularName") or "",
            )
        )
    return out


def preferred_group_versions(doc: dict) -> list[tuple[str, str]]:
    """(group, version) for every group of an APIGroupList, in the server's order."""
    out = []
    for group in doc.get("groups") or []:
        name = group.get("name") or ""
        preferred = (group.get("preferredVersion") or {}).get("version")
        if not preferred:
            versions = group.get("versions") or []
            preferred = versions[0].get("version") if versions else None
        if name and preferred:
            out.append((name, preferred))
    return out


def discover(fetch: Fetch, warnings: list[str]) -> ResourceTable:
    """Run discovery. A group that fails is skipped with a warning; `/api` or `/apis` failing is fatal."""
    versions = fetch("/api").get("versions") or ["v1"]
    core_version = "v1" if "v1" in versions else versions[0]
    resources = parse_resource_list(fetch(f"/api/{core_version}"), "", core_version)

    groups = preferred_group_versions(fetch("/apis"))

    def one(group_version: tuple[str, str]) -> list[ResourceInfo] | SourceError:
        group, version = group_version
        try:
            return parse_resource_list(fetch(f"/apis/{group}/{version}"), group, version)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=DISCOVERY_THREADS, thread_name_prefix="kube-discovery") as pool:
        results = list(pool.map(one, groups))  # map keeps the server's group order
    for (group, version), result in zip(groups, results, strict=True):
        if isinstance(result, SourceError):
            warnings.append(f"API group {group}/{version} skipped: discovery failed: {result}")
        else:
            resources.extend(result)
    return ResourceTable(resources)
