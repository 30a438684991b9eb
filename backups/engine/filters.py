"""Velero's include/exclude filters for namespaces and resources (spec part 2 (f)).

Resource names are resolved through discovery so short names and kinds work; a name that
discovery does not know is an error here (Velero silently keeps it, which hides typos).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cached_property

from .resources import ResourceTable, UnknownResource
from .spec import SpecError

_GLOB = re.compile(r"[*?\[]")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAMESPACES = "namespaces"


def is_glob(pattern: str) -> bool:
    return bool(_GLOB.search(pattern))


def _validate_lists(what: str, includes: list[str], excludes: list[str]) -> None:
    if len(includes) > 1 and "*" in includes:
        raise SpecError(f"invalid included {what} {includes}: must either be '*' only, or a list of names")
    if "*" in excludes:
        raise SpecError(f"invalid excluded {what}: '*' cannot be excluded")
    both = sorted(set(includes) & set(excludes))
    if both:
        raise SpecError(f"invalid {what} filter: {', '.join(both)} is both included and excluded")


@dataclass
class NamespaceFilter:
    """Included/excluded namespaces with glob patterns; an exclude always wins."""

    includes: list[str]
    excludes: list[str]

    @classmethod
    def build(cls, includes: list[str] | None, excludes: list[str] | None) -> NamespaceFilter:
        includes = [n.strip() for n in (includes or []) if n.strip()] or ["*"]
        excludes = [n.strip() for n in (excludes or []) if n.strip()]
        _validate_lists("namespaces", includes, excludes)
        for name in includes + excludes:
            if name != "*" and not _NAMESPACE.match(re.sub(r"[*?\[\]]", "x", name)):
                raise SpecError(f"invalid namespace {name!r}: not a valid namespace name or pattern")
        return cls(includes, excludes)

    @cached_property
    def include_everything(self) -> bool:
        return self.includes == ["*"] and not self.excludes

    @cached_property
    def _include_all(self) -> bool:
        return "*" in self.includes

    def should_include(self, namespace: str) -> bool:
        if any(fnmatchcase(namespace, p) for p in self.excludes):
            return False
        return self._include_all or any(fnmatchcase(namespace, p) for p in self.includes)

    def explicit_includes(self) -> list[str]:
        """Included names that are not patterns: Velero reports those that do not exist."""
        return [n for n in self.includes if not is_glob(n)]

    def excluding(self, more: list[str]) -> NamespaceFilter:
        extra = [n for n in more if n not in self.excludes and n not in self.includes]
        return NamespaceFilter(self.includes, self.excludes + extra) if extra else self


@dataclass
class ResourceFilter:
    """Velero's GlobalIncludesExcludes: old-style resource lists plus include-cluster-resources."""

    includes: list[str]  # resolved group resources or glob patterns; ["*"] = all
    excludes: list[str]
    include_cluster_resources: bool | None
    namespaces: NamespaceFilter
    table: ResourceTable

    @classmethod
    def build(
        cls,
        table: ResourceTable,
        includes: list[str] | None,
        excludes: list[str] | None,
        include_cluster_resources: bool | None,
        namespaces: NamespaceFilter,
    ) -> ResourceFilter:
        raw_in = [r.strip() for r in (includes or []) if r.strip()] or ["*"]
        raw_ex = [r.strip() for r in (excludes or []) if r.strip()]
        _validate_lists("resources", raw_in, raw_ex)
        return cls(
            [cls._resolve(table, r) for r in raw_in],
            [cls._resolve(table, r) for r in raw_ex],
            include_cluster_resources,
            namespaces,
            table,
        )

    @staticmethod
    def _resolve(table: ResourceTable, name: str) -> str:
        if name == "*" or is_glob(name):
            return name
        try:
            return table.resolve(name).group_resource
        except UnknownResource:
            raise UnknownResource(name) from None

    def _matches(self, patterns: list[str], group_resource: str) -> bool:
        return any(p == group_resource or (is_glob(p) and fnmatchcase(group_resource, p)) for p in patterns)

    def _filter_includes(self, group_resource: str) -> bool:
        if self._matches(self.excludes, group_resource):
            return False
        return "*" in self.includes or self._matches(self.includes, group_resource)

    def _namespaced(self, group_resource: str) -> bool:
        info = self.table.by_group_resource(group_resource)
        return info.namespaced if info else True

    def should_include(self, group_resource: str) -> bool:
        """Is this resource type collected? (GlobalIncludesExcludes.ShouldInclude)"""
        if not self._namespaced(group_resource):
            if self.include_cluster_resources is False:
                return False
            if (
                group_resource != NAMESPACES
                and self.include_cluster_resources is None
                and not self.namespaces.include_everything
            ):
                return False
        return self._filter_includes(group_resource)

    def should_exclude(self, group_resource: str) -> bool:
        """Is this type explicitly excluded? Related cluster-scoped items are kept unless it is."""
        if self._matches(self.excludes, group_resource):
            return True
        if not self._namespaced(group_resource):
            if self.include_cluster_resources is False:
                return True
            if self.include_cluster_resources is None and not self._filter_includes(group_resource):
                return True
        return False
