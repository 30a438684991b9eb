"""Backup exec hooks: where they come from and how they are parsed (running them: `hook_runner`).

Spec part 2 (b) describes Velero; part 1 items 5 and 6 are where Veloweb differs:

- a timeout without a unit (`"300"`) is rejected with a warning naming the pod and the value, and the hook
  is recorded as failed instead of silently running with the default (Velero #2599);
- an unset onError behaves as Continue (what Velero really does), and `on_error_set` lets the UI say so;
- a failed `Fail` pre-hook means the pod is not written and not counted as backed up;
- `FailBlock`: a failed pre-hook drops the whole block (no item, no snapshot); post-hooks of the pods
  whose pre-hooks passed still run (Velero #8858, PR #10177).

Only pods have hooks and only `exec` hooks exist for backups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from backups.engine.durations import HOOK_TIMEOUT
from backups.engine.planning.filters import NamespaceFilter, is_glob
from backups.engine.planning.label_selectors import InvalidSelector, Selector
from backups.engine.planning.resources import ResourceTable, UnknownResource
from backups.engine.planning.spec import SpecError

PRE, POST = "pre", "post"
CONTINUE, FAIL, FAIL_BLOCK = "Continue", "Fail", "FailBlock"
ON_ERROR_VALUES = (CONTINUE, FAIL, FAIL_BLOCK)
FROM_ANNOTATION = "<from-annotation>"
DEFAULT_TIMEOUT = 30.0  # seconds, Velero's pod_command_executor default
PODS = "pods"
FINISHED_PHASES = ("Succeeded", "Failed")

# Velero's annotation keys: `<phase>.hook.backup.velero.io/<field>`; legacy un-prefixed keys are pre-hooks.
ANNOTATION_SUFFIX = "hook.backup.velero.io"
COMMAND, CONTAINER, ON_ERROR, TIMEOUT = "command", "container", "on-error", "timeout"


def annotation_key(phase: str, name: str) -> str:
    """`pre.hook.backup.velero.io/command`; phase "" gives the legacy `hook.backup.velero.io/command`."""
    prefix = f"{phase}." if phase else ""
    return f"{prefix}{ANNOTATION_SUFFIX}/{name}"


class HookSpecError(ValueError):
    """An invalid `spec.hooks.resources[]` entry; the message names the hook and the field."""


# --------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class ExecHook:
    """One command to run in one container of one pod, with its error mode and timeout."""

    container: str | None  # resolved: the named container, or the pod's first container
    command: list[str]
    on_error: str  # "Continue" | "Fail" | "FailBlock"; "Continue" when unset
    on_error_set: bool  # False: the user gave no (valid) onError, shown as "Continue (default)"
    timeout: float  # seconds
    source: str  # FROM_ANNOTATION or the spec hook's name
    index: int = 0  # position in the spec hook's pre/post list (Velero's hook tracker key)
    invalid: str | None = None  # why the hook cannot run (e.g. a bad timeout); it is recorded as failed

    @property
    def stops_on_failure(self) -> bool:
        """Velero only treats an *explicit* Fail as blocking; FailBlock blocks too."""
        return self.on_error in (FAIL, FAIL_BLOCK)


# ----------------------------------------------------------------------------------------- durations


def _timeout_seconds(text: str) -> float:
    """A hook timeout: a Go duration within HOOK_TIMEOUT's limits; 0 means the default, as in Velero."""
    return HOOK_TIMEOUT.check(text) or DEFAULT_TIMEOUT


# --------------------------------------------------------------------------------------- annotations


def _parse_command(value: str) -> list[str]:
    """Velero's parseStringToCommand: `[...]` is a JSON string array, anything else is argv[0] as is."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        if isinstance(parsed, list) and all(isinstance(arg, str) for arg in parsed):
            return parsed
    return [value]


def _pod_ref(pod: Mapping) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _annotation_hook(pod: Mapping, phase: str, warnings: list[str]) -> ExecHook | None:
    """The hook described by the pod's `<phase>.hook.backup.velero.io/*` annotations, if any."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    command_text = annotations.get(annotation_key(phase, COMMAND)) or ""
    if not command_text:
        return None  # a hook exists only if its command annotation is non-empty
    where = _pod_ref(pod)
    invalid = None
    command = _parse_command(command_text)
    if not command:
        invalid = f"empty command {command_text!r} on pod {where}: command is required"

    on_error_text = annotations.get(annotation_key(phase, ON_ERROR)) or ""
    on_error_set = on_error_text in ON_ERROR_VALUES
    if on_error_text and not on_error_set:
        warnings.append(
            f"invalid on-error {on_error_text!r} on pod {where}: expected one of "
            f"{', '.join(ON_ERROR_VALUES)}; treated as unset (Continue)"
        )

    timeout = DEFAULT_TIMEOUT
    timeout_text = annotations.get(annotation_key(phase, TIMEOUT)) or ""
    if timeout_text:
        try:
            timeout = _timeout_seconds(timeout_text)
        except ValueError as exc:
            invalid = f"invalid timeout {timeout_text!r} on pod {where}: {exc}"
            warnings.append(f"{invalid}; the hook is not run")

    return ExecHook(
        container=annotations.get(annotation_key(phase, CONTAINER)) or None,
        command=command,
        on_error=on_error_text if on_error_set else CONTINUE,
        on_error_set=on_error_set,
        timeout=timeout,
        source=FROM_ANNOTATION,
        invalid=invalid,
    )


# ----------------------------------------------------------------------------------------- spec hooks

_RESOURCE_HOOK_FIELDS = {
    "name",
    "includedNamespaces",
    "excludedNamespaces",
    "includedResources",
    "excludedResources",
    "labelSelector",
    "pre",
    "post",
}
_EXEC_FIELDS = {"container", "command", "onError", "timeout"}
_POD_NAMES = {"pods", "pod", "po"}  # without discovery, the names kubectl accepts for pods


@dataclass
class ResourceHook:
    """One `spec.hooks.resources[]` entry, validated: which pods it applies to and its exec hooks."""

    name: str
    namespaces: NamespaceFilter
    included_resources: list[str]  # group resources or globs; empty = all
    excluded_resources: list[str]
    selector: Selector
    pre: list[ExecHook] = field(default_factory=list)  # container None = the pod's first container
    post: list[ExecHook] = field(default_factory=list)
    # (field, name) of resource names discovery does not serve: kept as given, they match nothing
    unknown_resources: list[tuple[str, str]] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        """What Velero accepts in this hook but what matches nothing (the backup log says so)."""
        return [
            f"unknown resource {name!r} in hook {self.name!r} {field_name}: the cluster does not serve it, "
            "so it matches nothing"
            for field_name, name in self.unknown_resources
        ]

    def applies_to(self, pod: Mapping) -> bool:
        """Velero's ResourceHook.Applicable for a pod: namespace, resource filter and label selector."""
        meta = pod.get("metadata") or {}
        if not self.namespaces.should_include(meta.get("namespace") or ""):
            return False
        if any(fnmatchcase(PODS, r) for r in self.excluded_resources):
            return False
        includes = self.included_resources
        if includes and not any(fnmatchcase(PODS, r) for r in includes):
            return False
        return self.selector.matches(meta.get("labels") or {})

    def hooks(self, phase: str) -> list[ExecHook]:
        return self.pre if phase == PRE else self.post


def _string_list(hook: str, field_name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HookSpecError(f"hook {hook!r}: {field_name} must be a list of strings, not {value!r}")
    return value


def _resource_name(name: str, table: ResourceTable | None) -> tuple[str, bool]:
    """(the name as the hook's filter keeps it, whether discovery knows it). As Velero's
    GetResourceIncludesExcludes: a name discovery does not serve is kept as given and matches
    nothing (dropping it could turn an include list into "everything")."""
    name = name.strip()
    if name == "*" or is_glob(name):
        return name, True
    if table is not None:
        try:
            return table.resolve(name).group_resource, True
        except UnknownResource:
            return name, False
    lowered = name.lower()
    return (PODS if lowered in _POD_NAMES else lowered), True


def _parse_exec(hook: str, where: str, entry: Any, index: int) -> ExecHook:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("exec"), Mapping):
        raise HookSpecError(f"hook {hook!r}: {where}: expected {{exec: {{command: [...]}}}}, not {entry!r}")
    spec = entry["exec"]
    unknown = set(spec) - _EXEC_FIELDS
    if unknown:
        raise HookSpecError(f"hook {hook!r}: {where}.exec: unknown field {min(unknown)!r}")
    command = spec.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(a, str) for a in command):
        raise HookSpecError(
            f"hook {hook!r}: {where}.exec.command must be a non-empty list of strings, not {command!r}"
        )
    container = spec.get("container") or None
    if container is not None and not isinstance(container, str):
        raise HookSpecError(f"hook {hook!r}: {where}.exec.container must be a string, not {container!r}")
    on_error = spec.get("onError") or None
    if on_error is not None and on_error not in ON_ERROR_VALUES:
        raise HookSpecError(
            f"hook {hook!r}: {where}.exec.onError {on_error!r} must be one of {', '.join(ON_ERROR_VALUES)}"
        )
    timeout = DEFAULT_TIMEOUT
    timeout_value = spec.get("timeout")
    if timeout_value not in (None, ""):
        if not isinstance(timeout_value, str):
            raise HookSpecError(
                f"hook {hook!r}: {where}.exec.timeout {timeout_value!r}: a duration string is required "
                f"(e.g. '{timeout_value}s')"
            )
        try:
            timeout = _timeout_seconds(timeout_value)
        except ValueError as exc:
            raise HookSpecError(f"hook {hook!r}: {where}.exec.timeout {timeout_value!r}: {exc}") from None
    return ExecHook(
        container=container,
        command=list(command),
        on_error=on_error or CONTINUE,
        on_error_set=on_error is not None,
        timeout=timeout,
        source=hook,
        index=index,
    )


def parse_resource_hook(entry: Any, position: int = 0, table: ResourceTable | None = None) -> ResourceHook:
    """Validate one `spec.hooks.resources[]` entry (Velero's Backup CR shape).

    With a discovery `table`, resource names are resolved as in the backup's own filters; an unknown
    one is kept as given and matches nothing, as in Velero (`ResourceHook.warnings` says so).
    """
    if not isinstance(entry, Mapping):
        raise HookSpecError(f"hooks.resources[{position}] must be an object, not {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise HookSpecError(f"hooks.resources[{position}]: name is required")
    unknown = set(entry) - _RESOURCE_HOOK_FIELDS
    if unknown:
        raise HookSpecError(f"hook {name!r}: unknown field {min(unknown)!r}")
    try:
        namespaces = NamespaceFilter.build(
            _string_list(name, "includedNamespaces", entry.get("includedNamespaces")),
            _string_list(name, "excludedNamespaces", entry.get("excludedNamespaces")),
        )
    except SpecError as exc:
        raise HookSpecError(f"hook {name!r}: {exc}") from None
    resources: dict[str, list[str]] = {}
    unknown_resources: list[tuple[str, str]] = []
    for field_name in ("includedResources", "excludedResources"):
        resources[field_name] = []
        for given in _string_list(name, field_name, entry.get(field_name)):
            if not given.strip():
                continue
            kept, known = _resource_name(given, table)
            resources[field_name].append(kept)
            if not known:
                unknown_resources.append((field_name, kept))
    included = [] if resources["includedResources"] == ["*"] else resources["includedResources"]
    try:
        selector = Selector.from_label_selector(entry.get("labelSelector"))
    except InvalidSelector as exc:
        raise HookSpecError(f"hook {name!r}: labelSelector: {exc}") from None
    phases = {}
    for phase in (PRE, POST):
        entries = entry.get(phase) or []
        if not isinstance(entries, list):
            raise HookSpecError(f"hook {name!r}: {phase} must be a list of {{exec: ...}}, not {entries!r}")
        phases[phase] = [_parse_exec(name, f"{phase}[{i}]", e, i) for i, e in enumerate(entries)]
    return ResourceHook(
        name=name,
        namespaces=namespaces,
        included_resources=included,
        excluded_resources=resources["excludedResources"],
        selector=selector,
        pre=phases[PRE],
        post=phases[POST],
        unknown_resources=unknown_resources,
    )


def parse_resource_hooks(resources: Any, table: ResourceTable | None = None) -> list[ResourceHook]:
    """`spec.hooks.resources` (a list, or None) as validated ResourceHooks, in spec order."""
    if resources is None:
        return []
    if not isinstance(resources, list):
        raise HookSpecError(f"hooks.resources must be a list, not {resources!r}")
    return [parse_resource_hook(entry, i, table) for i, entry in enumerate(resources)]


def hook_warnings(hooks: list[ResourceHook]) -> list[str]:
    """The warnings of every hook, in spec order (unknown resource names)."""
    return [warning for hook in hooks for warning in hook.warnings]


# ----------------------------------------------------------------------------------- hooks for a pod


def _containers(pod: Mapping) -> tuple[list[str], list[str]]:
    """(regular container names, native sidecar names: init containers with restartPolicy Always)."""
    spec = pod.get("spec") or {}
    regular = [c.get("name") for c in spec.get("containers") or []]
    sidecars = [c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return regular, sidecars


def default_container(pod: Mapping) -> str | None:
    """Velero runs a hook without a container in the pod's first container."""
    regular, _ = _containers(pod)
    return regular[0] if regular else None


def container_problem(pod: Mapping, container: str | None) -> str | None:
    """Why a hook cannot run in `container` of `pod` (Velero's "no such container"), or None."""
    if container is None:
        return "pod has no containers"
    regular, sidecars = _containers(pod)
    if container in regular or container in sidecars:
        return None
    return f'no such container: "{container}"'


def hook_view(pod: Mapping) -> dict:
    """The parts of a pod that decide its hooks (names, labels, annotations, containers, phase):
    enough to run its post-hooks later, on behalf of a worker that died after its pre-hooks."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    return {
        "metadata": {
            key: meta[key] for key in ("name", "namespace", "labels", "annotations") if meta.get(key)
        },
        "spec": {
            "containers": [{"name": c.get("name")} for c in spec.get("containers") or []],
            "initContainers": [
                {"name": c.get("name"), "restartPolicy": c.get("restartPolicy")}
                for c in spec.get("initContainers") or []
            ],
        },
        "status": {"phase": (pod.get("status") or {}).get("phase")},
    }


def has_hooks(pod: Mapping, spec_hooks: list[ResourceHook]) -> bool:
    """Whether the pod runs any pre- or post-hook."""
    return any(hooks_for_pod(pod, phase, spec_hooks)[0] for phase in (PRE, POST))


def hooks_for_pod(
    pod: Mapping, phase: str, spec_hooks: list[ResourceHook]
) -> tuple[list[ExecHook], list[str]]:
    """The hooks a pod runs in `phase`, in order, with warnings about its annotations.

    Annotation hooks win over spec hooks for that pod and phase (the spec hooks are then ignored
    entirely); the legacy un-prefixed annotations count as a pre-hook only without a `pre.` command.
    Containers are resolved here: a hook without one runs in the pod's first container.
    """
    if phase not in (PRE, POST):
        raise ValueError(f"hook phase must be {PRE!r} or {POST!r}, not {phase!r}")
    warnings: list[str] = []
    hook = _annotation_hook(pod, phase, warnings)
    if hook is None and phase == PRE:
        hook = _annotation_hook(pod, "", warnings)
    if hook is not None:
        hooks = [hook]
    else:
        hooks = [h for rh in spec_hooks if rh.applies_to(pod) for h in rh.hooks(phase)]
    first = default_container(pod)
    hooks = [h if h.container else _with_container(h, first) for h in hooks]
    return hooks, warnings


def _with_container(hook: ExecHook, container: str | None) -> ExecHook:
    return ExecHook(
        container=container,
        command=hook.command,
        on_error=hook.on_error,
        on_error_set=hook.on_error_set,
        timeout=hook.timeout,
        source=hook.source,
        index=hook.index,
        invalid=hook.invalid,
    )
