"""Velero's include/exclude filters for namespaces and resources (spec part 2 (f)).

Two resource filters exist, as in Velero (`pkg/util/collections/includes_excludes.go`): the old
one (`includedResources`, `excludedResources`, `includeClusterResources`) and the scoped one of
Velero 1.11+ (`included/excludedClusterScopedResources`, `included/excludedNamespaceScopedResources`),
used whenever no old-style field is set. Names are resolved through discovery, so short names and
kinds work; a name discovery does not know is kept as it is and matches nothing, as in Velero (the
backup says so in a warning, see `spec.spec_warnings`). Building a filter never fails: what
Velero's controller refuses is `spec.spec_errors`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Protocol

from .resources import ResourceTable, UnknownResource
from .spec_error import SpecError

_GLOB = re.compile(r"[*?\[]")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAMESPACES = "namespaces"


def is_glob(pattern: str) -> bool:
    return bool(_GLOB.search(pattern))


def list_errors(what: str, includes: list[str], excludes: list[str]) -> list[str]:
    """Velero's ValidateIncludesExcludes (old-style resources, namespaces)."""
    errors = []
    if len(includes) > 1 and "*" in includes:
        errors.append(f"invalid included {what} {includes}: must either be '*' only, or a list of names")
    if "*" in excludes:
        errors.append(f"invalid excluded {what}: '*' cannot be excluded")
    both = sorted(set(includes) & set(excludes) - {"*"})
    if both:
        errors.append(f"invalid {what} filter: {', '.join(both)} is both included and excluded")
    return errors


def scoped_list_errors(what: str, includes: list[str], excludes: list[str]) -> list[str]:
    """Velero's ValidateScopedIncludesExcludes (the cluster-scoped and namespace-scoped lists)."""
    errors = []
    if len(includes) > 1 and "*" in includes:
        errors.append(f"invalid included {what} {includes}: must either be '*' only, or a list of names")
    if len(excludes) > 1 and "*" in excludes:
        errors.append(f"invalid excluded {what} {excludes}: must either be '*' only, or a list of names")
    if includes and "*" in excludes:
        errors.append(f"invalid {what} filter: when '*' is excluded, nothing can be included")
    both = sorted(set(includes) & set(excludes) - {"*"})
    if both:
        errors.append(f"invalid {what} filter: {', '.join(both)} is both included and excluded")
    return errors


def namespace_name_problem(name: str) -> str | None:
    """Velero's validateNamespaceName: a namespace name, or a glob of one (`*`, `?`, `[abc]`)."""
    if name == "*":
        return None
    if re.search(r"[|()!{},]", name):
        return "a pattern cannot hold |, (, ), !, {, }, or ,"
    if "**" in name:
        return "a pattern has a single '*' at a time"
    if re.search(r"\[\]|\[[^\]]*$|^[^\[]*\]", name):
        return "a '[' needs a matching ']' around at least one character"
    if not _NAMESPACE.match(re.sub(r"[*?\[\]]", "x", name)) or len(name) > 63:
        return "not a valid namespace name or pattern"
    return None


def namespace_errors(includes: list[str], excludes: list[str]) -> list[tuple[str, str]]:
    """(field, message) for included/excluded namespaces Velero's controller refuses."""
    found = [
        ("excluded_namespaces" if e.startswith("invalid excluded") else "included_namespaces", e)
        for e in list_errors("namespaces", includes, excludes)
    ]
    for field_name, names in (("included_namespaces", includes), ("excluded_namespaces", excludes)):
        for name in names:
            problem = namespace_name_problem(name)
            if problem:
                found.append((field_name, f"invalid namespace {name!r}: {problem}"))
    return found


@dataclass
class NamespaceFilter:
    """Included/excluded namespaces with glob patterns; an exclude always wins.

    `expanded` is Velero 1.18's wildcard expansion (`NamespaceIncludesExcludes.ExpandIncludesExcludes`):
    patterns replaced by the cluster's namespaces they match, so a pattern that matches nothing
    includes nothing.
    """

    includes: list[str]
    excludes: list[str]
    expanded: bool = False
    labelled_out: tuple[str, ...] = ()  # excluded by their velero.io/exclude-from-backup label

    @classmethod
    def build(cls, includes: list[str] | None, excludes: list[str] | None) -> NamespaceFilter:
        """A validated filter (hooks' namespace lists); raises SpecError naming the first problem."""
        filter_ = cls.of(includes, excludes)
        problems = namespace_errors(filter_.includes, filter_.excludes)
        if problems:
            raise SpecError(problems[0][1])
        return filter_

    @classmethod
    def of(cls, includes: list[str] | None, excludes: list[str] | None) -> NamespaceFilter:
        """The filter as Velero's backupper takes it, unchecked (empty includes = everything)."""
        includes = [n.strip() for n in (includes or []) if n.strip()] or ["*"]
        excludes = [n.strip() for n in (excludes or []) if n.strip()]
        return cls(includes, excludes)

    def expand(self, names: list[str]) -> NamespaceFilter:
        """Patterns replaced by the namespaces (`names`, the cluster's) they match; literal names
        stay, whether they exist or not. Nothing to expand when everything is included ("*")."""
        if "*" in self.includes or not any(is_glob(p) for p in self.includes + self.excludes):
            return self

        def expand(patterns: list[str]) -> list[str]:
            found = {p for p in patterns if not is_glob(p)}
            for pattern in (p for p in patterns if is_glob(p)):
                found.update(n for n in names if fnmatchcase(n, pattern))
            return sorted(found)

        return NamespaceFilter(expand(self.includes), expand(self.excludes), True, self.labelled_out)

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

    def may_hold(self, pattern: str) -> bool:
        """Whether a backup taken with this filter may hold a namespace named `pattern`, or, for a
        glob, one matching it: the history's namespace search. A name is matched as the backup
        matched it (`payments` finds a backup of `pay*`); a glob finds backups whose includes it
        matches or that include everything or a wider glob (`pay*` finds a backup of `payments` or
        `p*`), unless an exclude covers the whole glob."""
        if not is_glob(pattern):
            return self.should_include(pattern)
        if any(fnmatchcase(pattern, p) for p in self.excludes):
            return False
        return self._include_all or any(
            fnmatchcase(p, pattern) or fnmatchcase(pattern, p) for p in self.includes
        )

    def to_list(self) -> list[str | None]:
        """Velero's getNamespacesToList: None (one list across all namespaces) when "*" is
        included, else every included name that is not excluded, existing or not."""
        if self.should_include("*"):
            return [None]
        return [n for n in sorted(set(self.includes)) if self.should_include(n)]

    def explicit_includes(self) -> list[str]:
        """Included names that are not patterns: Velero reports those that do not exist."""
        return [n for n in self.includes if not is_glob(n)]

    def excluding(self, labelled: list[str]) -> NamespaceFilter:
        """The namespaces labelled velero.io/exclude-from-backup=true added to the excluded ones."""
        extra = [n for n in labelled if n not in self.excludes]
        if not extra:
            return self
        return NamespaceFilter(
            self.includes, self.excludes + extra, self.expanded, self.labelled_out + tuple(extra)
        )

    def why_excluded(self, namespace: str) -> str:
        """Which rule leaves `namespace` out (the preview's reason), for one should_include refuses."""
        if namespace in self.labelled_out:
            return f"namespace {namespace} is labelled velero.io/exclude-from-backup=true"
        pattern = next((p for p in self.excludes if fnmatchcase(namespace, p)), None)
        if pattern is not None:
            shown = "" if pattern == namespace else f" ({pattern})"
            return f"namespace {namespace} is in excluded namespaces{shown}"
        return f"namespace {namespace} is not in included namespaces"


class ResourceFilter(Protocol):
    """What the collector and the block walk ask of either resource filter."""

    def should_include(self, group_resource: str) -> bool:
        """Is this resource type collected?"""

    def should_exclude(self, group_resource: str) -> bool:
        """Is this type explicitly excluded? Related cluster-scoped items are kept unless it is."""

    def why_excluded(self, group_resource: str) -> str:
        """Which rule leaves this type out (the preview's reason)."""


def _matches(patterns, group_resource: str) -> bool:
    return any(p == group_resource or (is_glob(p) and fnmatchcase(group_resource, p)) for p in patterns)


def _matching(patterns, group_resource: str) -> str | None:
    """The first pattern (or name) that matches, for the reasons the preview gives."""
    return next(
        (
            p
            for p in patterns
            if p == "*" or p == group_resource or (is_glob(p) and fnmatchcase(group_resource, p))
        ),
        None,
    )


AUTO_EXCLUDED_REASON = "Velero backs up only the VolumeSnapshots it creates (auto-excluded type)"


def resolve_name(table: ResourceTable, name: str) -> str:
    """A name as Velero's filters keep it: `resource.group` when discovery knows it, else as given."""
    if name == "*" or is_glob(name):
        return name
    try:
        return table.resolve(name).group_resource
    except UnknownResource:
        return name


def _clean(names: list[str] | None) -> list[str]:
    return [n.strip() for n in (names or []) if n.strip()]


@dataclass
class GlobalResourceFilter:
    """Velero's GlobalIncludesExcludes: old-style resource lists plus include-cluster-resources.
    `auto_excluded` are the snapshot types Velero never collects."""

    includes: list[str]  # resolved group resources or patterns; empty or "*" = all
    excludes: list[str]
    include_cluster_resources: bool | None
    namespaces: NamespaceFilter
    table: ResourceTable
    auto_excluded: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        table: ResourceTable,
        includes: list[str] | None,
        excludes: list[str] | None,
        include_cluster_resources: bool | None,
        namespaces: NamespaceFilter,
        auto_excluded: tuple[str, ...] = (),
    ) -> GlobalResourceFilter:
        # a "*" among the excludes is ignored (generateIncludesExcludes); validation refuses it first
        return cls(
            [resolve_name(table, r) for r in _clean(includes)],
            [resolve_name(table, r) for r in _clean(excludes) if r != "*"],
            include_cluster_resources,
            namespaces,
            table,
            auto_excluded,
        )

    def _filter_includes(self, group_resource: str) -> bool:
        if _matches(self.excludes, group_resource) or group_resource in self.auto_excluded:
            return False
        return not self.includes or "*" in self.includes or _matches(self.includes, group_resource)

    def _namespaced(self, group_resource: str) -> bool:
        info = self.table.by_group_resource(group_resource)
        return info.namespaced if info else True

    def should_include(self, group_resource: str) -> bool:
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
        if _matches(self.excludes, group_resource) or group_resource in self.auto_excluded:
            return True
        if not self._namespaced(group_resource):
            if self.include_cluster_resources is False:
                return True
            if self.include_cluster_resources is None and not self._filter_includes(group_resource):
                return True
        return False

    def why_excluded(self, group_resource: str) -> str:
        """Which rule leaves the type out (the preview's reason), for one the filter refuses."""
        if group_resource in self.auto_excluded:
            return AUTO_EXCLUDED_REASON
        pattern = _matching(self.excludes, group_resource)
        if pattern is not None:
            return f"in excluded resources{'' if pattern == group_resource else f' ({pattern})'}"
        if not self._namespaced(group_resource):
            if self.include_cluster_resources is False:
                return "cluster-scoped, and include-cluster-resources is false"
            if self.include_cluster_resources is None and not self.namespaces.include_everything:
                return "cluster-scoped, and include-cluster-resources is unset while namespaces are filtered"
        return "not in included resources"


@dataclass
class ScopedResourceFilter:
    """Velero's ScopeIncludesExcludes (1.11+): separate lists for namespace-scoped and
    cluster-scoped types. A namespace-scoped type is collected unless excluded (no includes =
    all); a cluster-scoped type only when listed, except that with no cluster-scoped list at all a
    backup of every namespace and every namespace-scoped type takes every cluster-scoped type;
    Namespace objects are always a candidate. `auto_excluded` (the snapshot types) are out
    without counting as a cluster-scoped list given by the user."""

    namespaced_includes: list[str]
    namespaced_excludes: list[str]
    cluster_includes: list[str]
    cluster_excludes: list[str]
    namespaces: NamespaceFilter
    table: ResourceTable
    auto_excluded: tuple[str, ...] = ()
    from_policy: set[str] = field(default_factory=set)  # names the resource policy added

    @classmethod
    def build(
        cls,
        table: ResourceTable,
        namespaced_includes: list[str] | None,
        namespaced_excludes: list[str] | None,
        cluster_includes: list[str] | None,
        cluster_excludes: list[str] | None,
        namespaces: NamespaceFilter,
        auto_excluded: tuple[str, ...] = (),
    ) -> ScopedResourceFilter:
        built = cls([], [], [], [], namespaces, table, auto_excluded)
        for names, target, namespaced in (
            (namespaced_includes, built.namespaced_includes, True),
            (namespaced_excludes, built.namespaced_excludes, True),
            (cluster_includes, built.cluster_includes, False),
            (cluster_excludes, built.cluster_excludes, False),
        ):
            for name in _clean(names):
                resolved = built._scoped(name, namespaced)
                if resolved and resolved not in target:
                    target.append(resolved)
        return built

    def _scoped(self, name: str, namespaced: bool) -> str:
        """Velero's scopeResourceMapFunc: a known type of the other scope is dropped ("")."""
        if name == "*":
            return name
        try:
            info = self.table.resolve(name) if not is_glob(name) else None
        except UnknownResource:
            return name
        if info is None:
            return name
        return info.group_resource if info.namespaced == namespaced else ""

    def combine_with_policy(self, policy) -> None:
        """Velero's CombineWithPolicy: a resource policy's include/exclude lists are added to the
        backup's, which win where they already name a type."""
        lists = {True: (self.namespaced_includes, self.namespaced_excludes)}
        lists[False] = (self.cluster_includes, self.cluster_excludes)
        for names, namespaced, add_to_includes in (
            (policy.excluded_namespace_scoped_resources, True, False),
            (policy.included_namespace_scoped_resources, True, True),
            (policy.excluded_cluster_scoped_resources, False, False),
            (policy.included_cluster_scoped_resources, False, True),
        ):
            includes, excludes = lists[namespaced]
            for name in names:
                resolved = self._scoped(name, namespaced)
                if resolved and not _matches(includes, resolved) and not _matches(excludes, resolved):
                    (includes if add_to_includes else excludes).append(resolved)
                    self.from_policy.add(resolved)

    def _namespaced(self, group_resource: str) -> bool:
        info = self.table.by_group_resource(group_resource)
        return info.namespaced if info else True

    def should_include(self, group_resource: str) -> bool:
        if group_resource in self.auto_excluded:
            return False
        if self._namespaced(group_resource):
            if "*" in self.namespaced_excludes or _matches(self.namespaced_excludes, group_resource):
                return False
            return (
                not self.namespaced_includes
                or "*" in self.namespaced_includes
                or _matches(self.namespaced_includes, group_resource)
            )
        if "*" in self.cluster_excludes or _matches(self.cluster_excludes, group_resource):
            return False
        if (
            not self.cluster_includes
            and not self.cluster_excludes
            and self.namespaces.include_everything
            and not self.namespaced_excludes
            and self.namespaced_includes in ([], ["*"])
        ):
            return True
        return (
            "*" in self.cluster_includes
            or _matches(self.cluster_includes, group_resource)
            or group_resource == NAMESPACES
        )

    def should_exclude(self, group_resource: str) -> bool:
        if group_resource in self.auto_excluded:
            return True
        if self._namespaced(group_resource):
            return _matches(self.namespaced_excludes, group_resource)
        return _matches(self.cluster_excludes, group_resource)

    def why_excluded(self, group_resource: str) -> str:
        """Which rule leaves the type out (the preview's reason), for one the filter refuses."""
        if group_resource in self.auto_excluded:
            return AUTO_EXCLUDED_REASON
        scope = "namespace-scoped" if self._namespaced(group_resource) else "cluster-scoped"
        excludes = self.namespaced_excludes if scope == "namespace-scoped" else self.cluster_excludes
        includes = self.namespaced_includes if scope == "namespace-scoped" else self.cluster_includes
        pattern = _matching(excludes, group_resource)
        if pattern is not None:
            if pattern in self.from_policy:
                return f"excluded by the resource policy's includeExcludePolicy ({scope})"
            return f"in excluded {scope} resources{'' if pattern == group_resource else f' ({pattern})'}"
        if scope == "cluster-scoped" and not includes:
            return "cluster-scoped: none included, and namespaces or namespace-scoped types are filtered"
        return f"not in included {scope} resources"
