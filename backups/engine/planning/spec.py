"""What to back up: Velero's backup spec fields that decide which items are collected and grouped.

`spec_errors` is what Velero's backup controller refuses (the backup ends FailedValidation);
`spec_warnings` is what Velero accepts but what most likely is a mistake (a resource name the
cluster does not serve matches nothing). Both return (field, message) pairs, the field named as
the model's, so a form can show each next to its input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from .spec_error import SpecError

DEFAULT_VOLUME_GROUP_LABEL_KEY = "velero.io/volume-group"
EXCLUDE_LABEL = "velero.io/exclude-from-backup"


@dataclass
class BackupSpec:
    included_namespaces: list[str] = field(default_factory=lambda: ["*"])
    excluded_namespaces: list[str] = field(default_factory=list)
    included_resources: list[str] = field(default_factory=lambda: ["*"])
    excluded_resources: list[str] = field(default_factory=list)
    include_cluster_resources: bool | None = None
    label_selector: str | None = None
    # resource name (as given, resolved by discovery) -> ["ns/name" or "name", ...] in order
    ordered_resources: dict[str, list[str]] = field(default_factory=dict)
    volume_group_label_key: str = DEFAULT_VOLUME_GROUP_LABEL_KEY
    # Velero 1.11+ scoped resource filters; cannot be mixed with the three old-style fields above
    included_cluster_scoped_resources: list[str] = field(default_factory=list)
    excluded_cluster_scoped_resources: list[str] = field(default_factory=list)
    included_namespace_scoped_resources: list[str] = field(default_factory=list)
    excluded_namespace_scoped_resources: list[str] = field(default_factory=list)
    # items matching any of these selectors (spec.orLabelSelectors); not with label_selector
    or_label_selectors: list[str] = field(default_factory=list)
    resource_policy: str | None = None  # Velero's resource policy document (YAML)

    @property
    def uses_old_resource_filters(self) -> bool:
        """Velero's UseOldResourceFilters. A lone "*" include is the default, not a choice."""
        included = [r for r in self.included_resources if r.strip()]
        return (
            self.include_cluster_resources is not None
            or included not in ([], ["*"])
            or any(r.strip() for r in self.excluded_resources)
        )

    @property
    def uses_new_resource_filters(self) -> bool:
        return any(
            r.strip()
            for r in self.included_cluster_scoped_resources
            + self.excluded_cluster_scoped_resources
            + self.included_namespace_scoped_resources
            + self.excluded_namespace_scoped_resources
        )

    @property
    def selectors(self) -> list[str]:
        """The label selectors to list with: the or-selectors, else the selector, else none."""
        if self.or_label_selectors:
            return list(self.or_label_selectors)
        return [self.label_selector] if self.label_selector else []


OLD_FILTER_FIELDS = ("included_resources", "excluded_resources", "include_cluster_resources")
NEW_FILTER_FIELDS = (
    "included_cluster_scoped_resources",
    "excluded_cluster_scoped_resources",
    "included_namespace_scoped_resources",
    "excluded_namespace_scoped_resources",
)
_SCOPED_WHAT = {
    "included_cluster_scoped_resources": "included cluster-scoped resources",
    "excluded_cluster_scoped_resources": "excluded cluster-scoped resources",
    "included_namespace_scoped_resources": "included namespace-scoped resources",
    "excluded_namespace_scoped_resources": "excluded namespace-scoped resources",
}


def parse_or_selectors(text: str | None) -> list[str]:
    """Velero's `--or-selector`: label selectors separated by ' or ' (`app=web or tier=db`).
    Raises InvalidSelector naming the bad one."""
    from .label_selectors import parse_selector

    if not text or not text.strip():
        return []
    selectors = [part.strip() for part in text.split(" or ")]
    for selector in selectors:
        if not selector:
            raise SpecError(f"invalid or-selector {text!r}: an empty selector around ' or '")
        parse_selector(selector)
    return selectors


def _cleaned(names: Iterable[str]) -> list[str]:
    return [n.strip() for n in names if n.strip()]


def spec_errors(spec: BackupSpec) -> list[tuple[str, str]]:
    """(field, message) for everything Velero's backup controller refuses (prepareBackupRequest):
    invalid namespace lists, old and new resource filters mixed, invalid resource lists, a bad
    label selector, both a selector and or-selectors, an invalid resource policy or one with an
    include/exclude policy next to old filters. No cluster needed."""
    from .filters import list_errors, namespace_errors, scoped_list_errors
    from .label_selectors import InvalidSelector, parse_selector
    from .resource_policies import PolicyError, parse_resource_policies

    errors = list(
        namespace_errors(_cleaned(spec.included_namespaces) or ["*"], _cleaned(spec.excluded_namespaces))
    )
    old, new = spec.uses_old_resource_filters, spec.uses_new_resource_filters
    if old and new:
        given = next(f for f in NEW_FILTER_FIELDS if _cleaned(getattr(spec, f)))
        errors.append(
            (
                given,
                "old and new resource filters cannot be used together: include-resources, exclude-resources "
                "and include-cluster-resources are old filters; include/exclude-cluster-scoped-resources "
                "and include/exclude-namespace-scoped-resources are new ones",
            )
        )
    if old:
        includes, excludes = _cleaned(spec.included_resources), _cleaned(spec.excluded_resources)
        for message in list_errors("resources", includes, excludes):
            errors.append(("excluded_resources" if "excluded" in message else "included_resources", message))
    else:
        for scope in ("cluster", "namespace"):
            included = f"included_{scope}_scoped_resources"
            excluded = f"excluded_{scope}_scoped_resources"
            what = f"{scope}-scoped resources"
            for message in scoped_list_errors(
                what, _cleaned(getattr(spec, included)), _cleaned(getattr(spec, excluded))
            ):
                errors.append((included if message.startswith("invalid included") else excluded, message))
    if spec.label_selector:
        try:
            parse_selector(spec.label_selector)
        except InvalidSelector as error:
            errors.append(("label_selector", str(error)))
    for selector in spec.or_label_selectors:
        try:
            parse_selector(selector)
        except InvalidSelector as error:
            errors.append(("or_label_selectors", str(error)))
    if spec.label_selector and spec.or_label_selectors:
        errors.append(
            ("or_label_selectors", "a label selector and or-selectors cannot be used together: give only one")
        )
    if spec.resource_policy and spec.resource_policy.strip():
        try:
            policies = parse_resource_policies(spec.resource_policy)
        except PolicyError as error:
            errors.append(("resource_policy", str(error)))
        else:
            if policies.has_include_exclude_policy and old:
                errors.append(
                    (
                        "resource_policy",
                        "the resource policy's includeExcludePolicy cannot be used with include-resources, "
                        "exclude-resources or include-cluster-resources (old filters)",
                    )
                )
    return errors


def spec_warnings(spec: BackupSpec, table, namespaces: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(field, message) for what Velero accepts but what matches nothing: resource names the
    cluster's discovery (`table`, a ResourceTable) does not serve, names in a scoped list of the
    other scope (Velero drops them: an include list left empty then includes every type), unknown
    ordered resources, and with the cluster's `namespaces` (names), included namespaces that do
    not exist and patterns that match none. Never raises on an invalid spec (see spec_errors)."""
    from .filters import is_glob
    from .resource_policies import PolicyError, parse_resource_policies
    from .resources import UnknownResource

    warnings: list[tuple[str, str]] = []

    def lookup(name: str):
        if name == "*" or is_glob(name):
            return None
        try:
            return table.resolve(name)
        except UnknownResource:
            return False

    def unknown(field_name: str, what: str, name: str) -> None:
        warnings.append(
            (
                field_name,
                f"unknown resource {name!r} in {what}: the cluster does not serve it, so it matches nothing",
            )
        )

    if spec.uses_old_resource_filters or not spec.uses_new_resource_filters:
        for field_name, what in (
            ("included_resources", "included resources"),
            ("excluded_resources", "excluded resources"),
        ):
            for name in _cleaned(getattr(spec, field_name)):
                if lookup(name) is False:
                    unknown(field_name, what, name)

    def scoped(field_name: str, what: str, names: list[str], namespaced: bool) -> None:
        for name in names:
            info = lookup(name)
            if info is False:
                unknown(field_name, what, name)
            elif info is not None and info.namespaced != namespaced:
                scope = "namespace-scoped" if info.namespaced else "cluster-scoped"
                warnings.append((field_name, f"{name!r} in {what} is {scope}: ignored there, as Velero does"))

    for field_name in NEW_FILTER_FIELDS:
        scoped(
            field_name,
            _SCOPED_WHAT[field_name],
            _cleaned(getattr(spec, field_name)),
            "namespace" in field_name,
        )
    for name in spec.ordered_resources or {}:
        if lookup(name) is False:
            unknown("ordered_resources", "ordered resources", name)
    if spec.resource_policy and spec.resource_policy.strip():
        try:
            policies = parse_resource_policies(spec.resource_policy)
        except PolicyError:
            policies = None
        if policies is not None:
            warnings += [("resource_policy", w) for w in policies.warnings]
            for key, names in (
                ("includedClusterScopedResources", policies.included_cluster_scoped_resources),
                ("excludedClusterScopedResources", policies.excluded_cluster_scoped_resources),
                ("includedNamespaceScopedResources", policies.included_namespace_scoped_resources),
                ("excludedNamespaceScopedResources", policies.excluded_namespace_scoped_resources),
            ):
                scoped("resource_policy", f"the resource policy's {key}", names, "Namespace" in key)
    if namespaces is not None:
        existing = set(namespaces)
        for name in _cleaned(spec.included_namespaces):
            if name == "*":
                continue
            if not is_glob(name) and name not in existing:
                warnings.append(
                    ("included_namespaces", f"namespace {name} in included namespaces does not exist")
                )
            elif is_glob(name) and not any(fnmatchcase(n, name) for n in existing):
                warnings.append(("included_namespaces", f"namespace pattern {name!r} matches no namespace"))
    return warnings


def parse_ordered_resources(text: str | None) -> dict[str, list[str]]:
    """Parse Velero's `--ordered-resources` syntax: `pods=ns/a,ns/b;persistentvolumes=pv1`."""
    result: dict[str, list[str]] = {}
    if not text or not text.strip():
        return result
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        resource, sep, names = part.partition("=")
        resource, names = resource.strip(), names.strip()
        if not sep or not resource or not names:
            raise SpecError(f"invalid ordered resources {part!r}: expected RESOURCE=NAME[,NAME...]")
        items = [n.strip() for n in names.split(",")]
        for item in items:
            if not item or item.count("/") > 1 or item.startswith("/") or item.endswith("/"):
                raise SpecError(f"invalid ordered resources {part!r}: {item!r} is not NAME or NAMESPACE/NAME")
        if resource in result:
            raise SpecError(f"invalid ordered resources: {resource!r} is listed twice")
        result[resource] = items
    return result


def parse_bool(text: str | bool | None, field_name: str) -> bool | None:
    """Tri-state flags such as include-cluster-resources: true, false or unset."""
    if text is None or isinstance(text, bool):
        return text
    value = text.strip().lower()
    if value in ("", "auto", "none"):
        return None
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise SpecError(f"invalid {field_name} {text!r}: expected true or false")
