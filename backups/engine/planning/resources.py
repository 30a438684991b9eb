"""API resources as discovery describes them, and name resolution the way kubectl and Velero do it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


class UnknownResource(ValueError):
    """A resource name that discovery does not know."""

    def __init__(self, name: str):
        super().__init__(f"unknown resource {name!r}: not served by the cluster's API discovery")
        self.name = name


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """One listable resource at its preferred version."""

    group: str  # "" for the core group
    version: str
    resource: str  # plural, lower case: "pods"
    kind: str  # "Pod"
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ("list", "get", "create", "delete")
    singular: str = ""

    @property
    def group_resource(self) -> str:
        """Velero's `resource.group` name (`pods`, `deployments.apps`)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def backupable(self) -> bool:
        """Velero only backs up resources it can list, get, create and delete."""
        return {"list", "get", "create", "delete"} <= set(self.verbs) and "/" not in self.resource


@dataclass
class ResourceTable:
    """Discovery's answer: every resource in discovery order (core group first)."""

    resources: list[ResourceInfo]
    _by_gr: dict[str, ResourceInfo] = field(init=False, repr=False)
    _by_kind: dict[tuple[str, str], ResourceInfo] = field(init=False, repr=False)
    _names: dict[str, list[ResourceInfo]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_gr, self._by_kind, self._names = {}, {}, {}
        for info in self.resources:
            self._by_gr.setdefault(info.group_resource, info)
            self._by_kind.setdefault((info.group, info.kind), info)
            names = {
                info.resource,
                info.kind.lower(),
                info.singular or info.kind.lower(),
                info.group_resource,
                f"{info.resource}.{info.version}.{info.group}" if info.group else info.resource,
                *info.short_names,
            }
            for name in names:
                self._names.setdefault(name.lower(), []).append(info)

    def __iter__(self) -> Iterator[ResourceInfo]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def resolve(self, name: str) -> ResourceInfo:
        """Resolve a plural, singular, kind, short name or `resource.group` as kubectl does.

        When several groups serve the same name, the first in discovery order wins (so core
        and `apps` win over `extensions`, as in Velero).
        """
        matches = self._names.get(name.strip().lower())
        if not matches:
            raise UnknownResource(name)
        return matches[0]

    def by_group_resource(self, group_resource: str) -> ResourceInfo | None:
        return self._by_gr.get(group_resource)

    def by_kind(self, api_version: str, kind: str) -> ResourceInfo | None:
        group = api_version.rpartition("/")[0]
        return self._by_kind.get((group, kind))

    def extended(self, extra: Iterable[ResourceInfo]) -> ResourceTable:
        """A table with more resources appended (CRDs found in a manifest set)."""
        known = set(self._by_gr)
        return ResourceTable(self.resources + [r for r in extra if r.group_resource not in known])
