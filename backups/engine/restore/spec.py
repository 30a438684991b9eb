"""What to restore: Velero's Restore spec fields (snake_case), their validation and the priorities.

`restore_spec_problems` returns (field, message) pairs for what Velero's restore controller refuses
(the restore ends FailedValidation), named as the spec's fields so a form shows each beside its
input; `backups/validation.py` calls it for the form, the CLI and the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from backups.engine.durations import parse_duration
from backups.engine.planning.filters import list_errors, namespace_name_problem
from backups.engine.planning.label_selectors import InvalidSelector, Selector, label_key_problem

# Velero's restore priorities (pkg/cmd/server/config/config.go defaultRestorePriorities): each high
# priority a tier restored before the next, then everything else, then the low priorities. Names as
# Velero lists them; the planner resolves them against the backup's `resource.group` names.
DEFAULT_HIGH_PRIORITIES: tuple[str, ...] = (
    "customresourcedefinitions",
    "namespaces",
    "storageclasses",
    "volumesnapshotclass.snapshot.storage.k8s.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io",
    "datauploads.velero.io",
    "persistentvolumes",
    "persistentvolumeclaims",
    "clusterroles",
    "roles",
    "serviceaccounts",
    "clusterrolebindings",
    "rolebindings",
    "secrets",
    "configmaps",
    "limitranges",
    "priorityclasses",
    "pods",
    "replicasets.apps",
    "clusterclasses.cluster.x-k8s.io",
    "endpoints",
    "services",
)
DEFAULT_LOW_PRIORITIES: tuple[str, ...] = (
    "clusterbootstraps.run.tanzu.vmware.com",
    "clusters.cluster.x-k8s.io",
    "clusterresourcesets.addons.cluster.x-k8s.io",
    "apps.kappctrl.k14s.io",
    "packageinstalls.packaging.carvel.dev",
)
LOW_PRIORITY_SEPARATOR = "-"  # Velero's Priorities.String(): "a,b,-,c" puts c after everything else

EXISTING_POLICIES = ("none", "update")
DEFAULT_WORKERS = 4
MAX_WORKERS = 64
# Velero's nonRestorableResources (restore_controller.go): always excluded, refused when included
NON_RESTORABLE: tuple[str, ...] = (
    "nodes",
    "events",
    "events.events.k8s.io",
    "backups.velero.io",
    "restores.velero.io",
    "resticrepositories.velero.io",
    "csinodes.storage.k8s.io",
    "volumeattachments.storage.k8s.io",
    "backuprepositories.velero.io",
)
_NAME_RE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-.")


@dataclass(frozen=True)
class RestoreSpec:
    """Velero's RestoreSpec, the fields Veloweb supports, in snake_case.

    `label_selector` and each of `or_label_selectors` are metav1.LabelSelector dicts
    (`{"matchLabels": {...}, "matchExpressions": [...]}`); a CLI string converts with
    `planning.label_selectors.label_selector_object`. `namespace_mapping` maps backed-up namespaces
    to the namespaces restored into. `restore_status` is `{"included_resources": [...],
    "excluded_resources": [...]}` (Velero's spec.restoreStatus). `resource_modifiers` is the YAML
    text of a resource-modifier rules document (Velero keeps it in a ConfigMap). `priorities` None
    means Velero's defaults; otherwise names with an optional `"-"` entry separating the low
    priorities. `hooks` is the list of `spec.hooks.resources[]` entries (dicts as in a Restore CR).
    `workers` is how many items of a tier are restored at once.
    """

    backup_name: str
    included_namespaces: tuple[str, ...] = ("*",)
    excluded_namespaces: tuple[str, ...] = ()
    included_resources: tuple[str, ...] = ("*",)
    excluded_resources: tuple[str, ...] = ()
    include_cluster_resources: bool | None = None
    label_selector: dict | None = None
    or_label_selectors: tuple[dict, ...] = ()
    namespace_mapping: dict[str, str] = field(default_factory=dict)
    restore_pvs: bool | None = None
    existing_resource_policy: str = "none"
    preserve_node_ports: bool | None = None
    restore_status: dict[str, list[str]] | None = None
    resource_modifiers: str | None = None
    priorities: tuple[str, ...] | None = None
    hooks: tuple[dict, ...] | None = None
    workers: int = DEFAULT_WORKERS

    def __hash__(self) -> int:  # dict fields: identity is enough for a frozen value object
        return id(self)

    # ------------------------------------------------------------------ derived

    @property
    def selectors(self) -> list[Selector]:
        """The parsed selectors: an item matches when it matches any (or-selectors), else the one
        selector, else everything (an empty list)."""
        raw = list(self.or_label_selectors) or ([self.label_selector] if self.label_selector else [])
        return [Selector.from_label_selector(s) for s in raw]

    def high_and_low_priorities(self) -> tuple[list[str], list[str]]:
        """(high, low) priority resource names, Velero's defaults when `priorities` is None."""
        if self.priorities is None:
            return list(DEFAULT_HIGH_PRIORITIES), list(DEFAULT_LOW_PRIORITIES)
        names = [p.strip() for p in self.priorities if p.strip()]
        if LOW_PRIORITY_SEPARATOR in names:
            i = names.index(LOW_PRIORITY_SEPARATOR)
            return names[:i], names[i + 1 :]
        return names, []

    def target_namespace(self, namespace: str) -> str:
        """The namespace an item of backed-up `namespace` is restored into ("" stays "")."""
        return self.namespace_mapping.get(namespace, namespace) if namespace else ""

    @property
    def status_includes(self) -> list[str]:
        return list((self.restore_status or {}).get("included_resources") or [])

    @property
    def status_excludes(self) -> list[str]:
        return list((self.restore_status or {}).get("excluded_resources") or [])


def parse_priorities(text: str) -> tuple[str, ...]:
    """`--restore-resource-priorities` text (`pods,-,services`) as a priorities tuple."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _dns1123_label_problem(name: str) -> str | None:
    if not name or len(name) > 63 or not set(name) <= _NAME_RE_CHARS or "." in name:
        return "must be a lowercase RFC 1123 label (a-z, 0-9 and '-', at most 63 characters)"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a letter or digit"
    return None


def _selector_problem(value: Any, field_name: str) -> str | None:
    try:
        Selector.from_label_selector(value)
    except (InvalidSelector, ValueError, TypeError) as exc:
        return str(exc)
    return None


def restore_spec_problems(spec: RestoreSpec) -> list[tuple[str, str]]:
    """(field, message) for each problem Velero's restore controller refuses, in field order.

    Checks: the backup name; namespace and resource include/exclude lists (Velero's
    ValidateIncludesExcludes, and namespace names); the label selector and or-selectors (not both);
    the namespace mapping (valid names, no two sources onto one target, no source mapped to itself
    and excluded); the existing-resource policy; status include/exclude lists; the resource
    modifiers document; priorities (at most one "-"); hooks (the shape of each entry and its
    timeouts); workers (1..MAX_WORKERS).
    """
    problems: list[tuple[str, str]] = []
    if not spec.backup_name or not spec.backup_name.strip():
        problems.append(("backup_name", "a backup to restore from is required"))

    includes = [n.strip() for n in spec.included_namespaces if n.strip()]
    excludes = [n.strip() for n in spec.excluded_namespaces if n.strip()]
    for message in list_errors("namespaces", includes, excludes):
        field_name = (
            "excluded_namespaces" if message.startswith("invalid excluded") else "included_namespaces"
        )
        problems.append((field_name, message))
    for field_name, names in (("included_namespaces", includes), ("excluded_namespaces", excludes)):
        for name in names:
            problem = namespace_name_problem(name)
            if problem:
                problems.append((field_name, f"invalid namespace {name!r}: {problem}"))

    r_includes = [n.strip() for n in spec.included_resources if n.strip()]
    r_excludes = [n.strip() for n in spec.excluded_resources if n.strip()]
    for name in r_includes:
        if name in NON_RESTORABLE:
            problems.append(("included_resources", f"{name} are non-restorable resources"))
    for message in list_errors("resources", r_includes, r_excludes):
        field_name = "excluded_resources" if message.startswith("invalid excluded") else "included_resources"
        problems.append((field_name, message))

    if spec.label_selector and spec.or_label_selectors:
        problems.append(
            (
                "or_label_selectors",
                "encountered labelSelector as well as orLabelSelectors in restore spec, "
                "only one can be specified",
            )
        )
    if spec.label_selector is not None:
        problem = _selector_problem(spec.label_selector, "label_selector")
        if problem:
            problems.append(("label_selector", problem))
    for selector in spec.or_label_selectors:
        problem = _selector_problem(selector, "or_label_selectors")
        if problem:
            problems.append(("or_label_selectors", problem))

    problems.extend(_mapping_problems(spec))

    if spec.existing_resource_policy not in EXISTING_POLICIES:
        problems.append(
            (
                "existing_resource_policy",
                f"invalid existing resource policy {spec.existing_resource_policy!r}: must be none or update",
            )
        )

    status = spec.restore_status or {}
    unknown = set(status) - {"included_resources", "excluded_resources"}
    if unknown:
        problems.append(
            (
                "restore_status",
                f"unknown keys {sorted(unknown)}: use included_resources and excluded_resources",
            )
        )
    for message in list_errors("status resources", spec.status_includes, spec.status_excludes):
        problems.append(("restore_status", message))

    if spec.resource_modifiers is not None:
        from .modifiers import ModifierError, parse_resource_modifiers

        try:
            parse_resource_modifiers(spec.resource_modifiers)
        except ModifierError as exc:
            problems.append(("resource_modifiers", str(exc)))

    if spec.priorities is not None:
        names = [p.strip() for p in spec.priorities if p.strip()]
        if names.count(LOW_PRIORITY_SEPARATOR) > 1:
            problems.append(("priorities", "at most one '-' may separate the high and the low priorities"))
        dupes = sorted({n for n in names if names.count(n) > 1 and n != LOW_PRIORITY_SEPARATOR})
        if dupes:
            problems.append(("priorities", f"listed more than once: {', '.join(dupes)}"))

    if spec.hooks is not None:
        from .hooks import HookSpecProblem, parse_restore_hooks

        try:
            parse_restore_hooks(spec.hooks)
        except HookSpecProblem as exc:
            problems.append(("hooks", str(exc)))

    if (
        not isinstance(spec.workers, int)
        or isinstance(spec.workers, bool)
        or not 1 <= spec.workers <= MAX_WORKERS
    ):
        problems.append(
            ("workers", f"workers must be a whole number from 1 to {MAX_WORKERS}, got {spec.workers!r}")
        )
    return problems


def _mapping_problems(spec: RestoreSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(spec.namespace_mapping, dict):
        return [("namespace_mapping", "must map backed-up namespaces to target namespaces")]
    targets: dict[str, str] = {}
    for source, target in spec.namespace_mapping.items():
        for what, name in (("source", source), ("target", target)):
            if not isinstance(name, str):
                problems.append(("namespace_mapping", f"{what} namespace {name!r} is not a name"))
                continue
            problem = _dns1123_label_problem(name)
            if problem:
                problems.append(("namespace_mapping", f"invalid {what} namespace {name!r}: {problem}"))
        if isinstance(target, str):
            if target in targets:
                problems.append(
                    (
                        "namespace_mapping",
                        f"namespaces {targets[target]!r} and {source!r} are both mapped to {target!r}",
                    )
                )
            targets[target] = source
    return problems


def duration_problem(value: Any, what: str) -> str | None:
    """Why `value` is not a Go duration (`30s`, `2m`), or None; used by the hooks' timeouts."""
    if value is None or value == "":
        return None
    try:
        if parse_duration(str(value)) < 0:
            return f"{what} {value!r} must not be negative"
    except ValueError as exc:
        return f"invalid {what} {value!r}: {exc}"
    return None


def modifiers_yaml_problem(text: str) -> str | None:
    """A YAML syntax problem of a resource modifiers document, or None."""
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return f"not valid YAML: {exc}"
    return None


__all__ = [
    "DEFAULT_HIGH_PRIORITIES",
    "DEFAULT_LOW_PRIORITIES",
    "EXISTING_POLICIES",
    "LOW_PRIORITY_SEPARATOR",
    "RestoreSpec",
    "label_key_problem",
    "parse_priorities",
    "restore_spec_problems",
]
