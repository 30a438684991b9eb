"""Velero's restore hooks (internal/hook item_hook_handler.go, wait_exec_hook_handler.go,
site/content/docs/main/restore-hooks.md).

Init hooks: when a pod is restored, containers are put before its init containers, either the one
its annotations describe (`init.hook.restore.velero.io/container-image`, `-container-name`,
`-command`) or, without that annotation, the `initContainers` of every `spec.hooks` entry whose
namespaces (matched against the namespace the pod is restored into) and label selector match it.

Post-restore exec hooks: the pod's annotation hook (`post.hook.restore.velero.io/command`,
`container`, `on-error`, `exec-timeout`, `wait-timeout`, `wait-for-ready`) or, without it, the exec
hooks of every matching spec entry, grouped by container (the first container when unset). Each
container's hooks run in order once the container is running (ready, if one of its hooks says
`waitForReady`); a hook whose `waitTimeout` passed before its container came up fails as "expired
before executing"; a failure with `onError: Fail` stops the pod's remaining hooks; hooks never run
(the pod finished or vanished, or the longest wait timeout passed) fail as "not executed". The
restore waits for every pod's hooks before it completes; failed hooks are errors of the pod's
namespace (the restore ends PartiallyFailed).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from backups.engine.durations import parse_duration
from backups.engine.log import BackupLog
from backups.engine.planning.label_selectors import InvalidSelector, Selector
from backups.engine.planning.resources import ResourceInfo

from .target import RestoreTarget

INIT_IMAGE = "init.hook.restore.velero.io/container-image"
INIT_NAME = "init.hook.restore.velero.io/container-name"
INIT_COMMAND = "init.hook.restore.velero.io/command"
POST_CONTAINER = "post.hook.restore.velero.io/container"
POST_COMMAND = "post.hook.restore.velero.io/command"
POST_ON_ERROR = "post.hook.restore.velero.io/on-error"
POST_EXEC_TIMEOUT = "post.hook.restore.velero.io/exec-timeout"
POST_WAIT_TIMEOUT = "post.hook.restore.velero.io/wait-timeout"
POST_WAIT_FOR_READY = "post.hook.restore.velero.io/wait-for-ready"
FROM_ANNOTATION = "<from-annotation>"
DEFAULT_EXEC_TIMEOUT = 30.0  # podexec's default when a hook sets none
DEFAULT_MAX_WAIT = 600.0  # Veloweb's bound when no hook has a wait timeout (Velero waits forever)
POLL_INTERVAL = 0.2
_PODS = ResourceInfo("", "v1", "pods", "Pod", True)


class HookSpecProblem(ValueError):
    """A `spec.hooks` entry Velero refuses; the message names the entry and the field."""


@dataclass(frozen=True)
class PostHook:
    """One post-restore exec hook for one pod's container."""

    name: str
    container: str
    command: tuple[str, ...]
    on_error: str = "Continue"  # or "Fail"
    exec_timeout: float = 0.0  # 0: podexec's 30 s
    wait_timeout: float = 0.0  # 0: no limit of its own
    wait_for_ready: bool = False
    source: str = "annotation"  # or "spec"
    index: int = 0


@dataclass
class HookRun:
    """What became of one post-restore hook of one pod."""

    pod: str  # namespace/name
    hook: PostHook
    ok: bool
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    executed: bool = False

    def as_dict(self) -> dict:
        return {
            "pod": self.pod,
            "name": self.hook.name,
            "container": self.hook.container,
            "command": list(self.hook.command),
            "source": self.hook.source,
            "ok": self.ok,
            "error": self.error,
            "executed": self.executed,
            "started": self.started,
            "finished": self.finished,
        }


@dataclass(frozen=True)
class RestoreResourceHook:
    """One `spec.hooks.resources[]` entry, parsed (its hooks apply to pods only, as in Velero)."""

    name: str
    included_namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    selector: Selector | None = None
    init_containers: tuple[dict, ...] = ()
    exec_hooks: tuple[PostHook, ...] = ()  # container "" = the pod's first

    def applies_to(self, namespace: str, labels: Mapping[str, str]) -> bool:
        if any(fnmatchcase(namespace, p) for p in self.excluded_namespaces):
            return False
        includes = self.included_namespaces or ("*",)
        if not any(p == "*" or fnmatchcase(namespace, p) for p in includes):
            return False
        return self.selector is None or self.selector.matches(labels)


# ----------------------------------------------------------------------------------------- parsing


def _duration(value: Any, where: str) -> float:
    if value in (None, ""):
        return 0.0
    try:
        seconds = parse_duration(str(value))
    except ValueError as exc:
        raise HookSpecProblem(f"{where}: invalid duration {value!r}: {exc}") from exc
    if seconds < 0:
        raise HookSpecProblem(f"{where}: duration {value!r} must not be negative")
    return seconds


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HookSpecProblem(f"{where} must be a list of strings")
    return tuple(value)


def parse_restore_hooks(hooks: Sequence[Mapping] | None) -> list[RestoreResourceHook]:
    """Parse `spec.hooks.resources[]` (Velero's GetRestoreHooksFromSpec and the controller's
    ValidateContainer); raises HookSpecProblem naming the entry and field."""
    parsed: list[RestoreResourceHook] = []
    for i, entry in enumerate(hooks or ()):
        where = f"hooks[{i}]"
        if not isinstance(entry, Mapping):
            raise HookSpecProblem(f"{where} must be an object")
        name = str(entry.get("name") or "")
        if name:
            where = f"hook {name!r}"
        selector = None
        if entry.get("labelSelector") is not None:
            try:
                selector = Selector.from_label_selector(entry["labelSelector"])
            except InvalidSelector as exc:
                raise HookSpecProblem(f"{where}: {exc}") from exc
        inits: list[dict] = []
        execs: list[PostHook] = []
        post = entry.get("postHooks") or []
        if not isinstance(post, list):
            raise HookSpecProblem(f"{where}: postHooks must be a list")
        for j, hook in enumerate(post):
            if not isinstance(hook, Mapping) or not (hook.get("init") or hook.get("exec")):
                raise HookSpecProblem(f"{where}: postHooks[{j}] needs init or exec")
            if hook.get("init"):
                init = hook["init"]
                _duration(init.get("timeout"), f"{where} init timeout")
                for k, container in enumerate(init.get("initContainers") or []):
                    if (
                        not isinstance(container, Mapping)
                        or not container.get("name")
                        or not container.get("image")
                        or not container.get("command")
                    ):
                        raise HookSpecProblem(
                            f"{where}: initContainers[{k}]: invalid InitContainer in restore hook, it "
                            "doesn't have Command, Name or Image field"
                        )
                    inits.append(dict(container))
            if hook.get("exec"):
                ex = hook["exec"]
                command = ex.get("command")
                if isinstance(command, str):
                    command = [command]
                if not command or not all(isinstance(c, str) for c in command):
                    raise HookSpecProblem(f"{where}: postHooks[{j}].exec.command must be a non-empty list")
                on_error = ex.get("onError") or "Continue"
                if on_error not in ("Continue", "Fail"):
                    raise HookSpecProblem(f"{where}: onError must be Continue or Fail, got {on_error!r}")
                execs.append(
                    PostHook(
                        name=name,
                        container=str(ex.get("container") or ""),
                        command=tuple(command),
                        on_error=on_error,
                        exec_timeout=_duration(ex.get("execTimeout"), f"{where} execTimeout"),
                        wait_timeout=_duration(ex.get("waitTimeout"), f"{where} waitTimeout"),
                        wait_for_ready=bool(ex.get("waitForReady")),
                        source="spec",
                        index=j,
                    )
                )
        parsed.append(
            RestoreResourceHook(
                name=name,
                included_namespaces=_strings(entry.get("includedNamespaces"), f"{where} includedNamespaces"),
                excluded_namespaces=_strings(entry.get("excludedNamespaces"), f"{where} excludedNamespaces"),
                selector=selector,
                init_containers=tuple(inits),
                exec_hooks=tuple(execs),
            )
        )
    return parsed


def _command(value: str) -> list[str]:
    """parseStringToCommand: a JSON list, else the whole string as one element."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return [value]
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return parsed
    return [value]


# -------------------------------------------------------------------------------------- init hooks


def add_init_hooks(pod: dict, hooks: Sequence[RestoreResourceHook], namespace: str) -> dict:
    """The pod with its init-container hooks put first (see the module docstring); `namespace`
    is the one it is restored into. Returns the same dict when there is nothing to add."""
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    added: list[dict] = []
    if annotations.get(INIT_IMAGE):
        name = annotations.get(INIT_NAME) or f"velero-restore-init-{uuid.uuid4().hex[:8]}"
        container: dict = {"name": name, "image": annotations[INIT_IMAGE]}
        command = annotations.get(INIT_COMMAND)
        if command:
            container["command"] = _command(command)
        added.append(container)
    else:
        labels = meta.get("labels") or {}
        for hook in hooks:
            if hook.init_containers and hook.applies_to(namespace, labels):
                added.extend(json.loads(json.dumps(c)) for c in hook.init_containers)
    if not added:
        return pod
    spec = dict(pod.get("spec") or {})
    spec["initContainers"] = added + list(spec.get("initContainers") or [])
    return {**pod, "spec": spec}


# -------------------------------------------------------------------------------------- post hooks


def post_hooks_for(pod: dict, hooks: Sequence[RestoreResourceHook]) -> list[PostHook]:
    """The pod's post-restore exec hooks (Velero's GroupRestoreExecHooks), containers filled in.
    `pod` is as restored (its namespace the target one)."""
    spec = pod.get("spec") or {}
    containers = spec.get("containers") or []
    if not containers:
        return []
    first = str(containers[0].get("name") or "")
    meta = pod.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    command = annotations.get(POST_COMMAND)
    if command:
        on_error = annotations.get(POST_ON_ERROR) or "Continue"

        def lenient(key: str) -> float:
            try:
                return max(0.0, parse_duration(annotations.get(key) or "0"))
            except ValueError:
                return 0.0  # Velero logs a warning and ignores an unparsable timeout

        return [
            PostHook(
                name=FROM_ANNOTATION,
                container=annotations.get(POST_CONTAINER) or first,
                command=tuple(_command(command)),
                on_error=on_error if on_error in ("Continue", "Fail") else "Continue",
                exec_timeout=lenient(POST_EXEC_TIMEOUT),
                wait_timeout=lenient(POST_WAIT_TIMEOUT),
                wait_for_ready=str(annotations.get(POST_WAIT_FOR_READY, "")).lower() == "true",
                source="annotation",
            )
        ]
    namespace = meta.get("namespace") or ""
    labels = meta.get("labels") or {}
    found: list[PostHook] = []
    for hook in hooks:
        if not hook.exec_hooks or not hook.applies_to(namespace, labels):
            continue
        for ex in hook.exec_hooks:
            found.append(ex if ex.container else _with_container(ex, first))
    return found


def _with_container(hook: PostHook, container: str) -> PostHook:
    return PostHook(
        hook.name,
        container,
        hook.command,
        hook.on_error,
        hook.exec_timeout,
        hook.wait_timeout,
        hook.wait_for_ready,
        hook.source,
        hook.index,
    )


def _container_up(pod: dict, container: str, hooks: Sequence[PostHook]) -> bool:
    want_ready = any(h.wait_for_ready for h in hooks)
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") != container:
            continue
        if want_ready:
            return bool(status.get("ready"))
        return "running" in (status.get("state") or {})
    return False


@dataclass
class _Pending:
    container: str
    hooks: list[PostHook] = field(default_factory=list)


def run_post_restore_hooks(
    pod: dict,
    hooks: Sequence[PostHook],
    target: RestoreTarget,
    log: BackupLog,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_wait: float = DEFAULT_MAX_WAIT,
    poll: float = POLL_INTERVAL,
) -> list[HookRun]:
    """Run one restored pod's post-restore hooks as Velero's wait-exec handler does (module
    docstring). Polls the pod until its containers are up; returns one HookRun per hook, in the
    order they ran (those never run last). Failures are logged as errors of the pod's namespace."""
    meta = pod.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    where = f"{namespace}/{name}"
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    pending: list[_Pending] = []
    for hook in hooks:
        if hook.container not in names:
            log.warning(
                f"Pod {where} does not have container {hook.container}: discarding post-restore exec hooks",
                resource="pods",
                namespace=namespace,
                name=name,
            )
            continue
        group = next((p for p in pending if p.container == hook.container), None)
        if group is None:
            group = _Pending(hook.container)
            pending.append(group)
        group.hooks.append(hook)
    pending.sort(key=lambda p: names.index(p.container))
    runs: list[HookRun] = []
    if not pending:
        return runs
    waits = [h.wait_timeout for p in pending for h in p.hooks]
    limit = max_wait if any(w <= 0 for w in waits) else min(max(waits), max_wait)
    start = clock()
    stop_reason = ""
    while pending:
        current = target.get(_PODS, namespace, name)
        if current is None:
            stop_reason = f"pod {where} deleted before all hooks were executed"
            break
        phase = (current.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            stop_reason = f"pod entered phase {phase} before some post-restore exec hooks ran"
            break
        failed_hard = False
        for group in list(pending):
            if not _container_up(current, group.container, group.hooks):
                continue
            pending.remove(group)
            for position, hook in enumerate(group.hooks):
                run = HookRun(where, hook, ok=False, started=clock(), executed=True)
                runs.append(run)
                if hook.wait_timeout and clock() - start > hook.wait_timeout:
                    run.error = f"hook {hook.name} in container {hook.container} expired before executing"
                    run.finished = clock()
                    _log_failure(log, run, namespace, name)
                    if hook.on_error == "Fail":
                        failed_hard = True
                        pending.insert(0, _Pending(group.container, group.hooks[position + 1 :]))
                        break
                    continue
                outcome = target.exec(
                    namespace,
                    name,
                    hook.container,
                    list(hook.command),
                    hook.exec_timeout or DEFAULT_EXEC_TIMEOUT,
                )
                run.finished = clock()
                problem = _exec_problem(outcome)
                if problem is None:
                    run.ok = True
                    log.info(
                        f"hook {hook.name} ran in container {hook.container}",
                        resource="pods",
                        namespace=namespace,
                        name=name,
                    )
                    continue
                run.error = (
                    f"hook {hook.name} in container {hook.container} failed to execute, err: {problem}"
                )
                _log_failure(log, run, namespace, name)
                if hook.on_error == "Fail":
                    failed_hard = True
                    pending.insert(0, _Pending(group.container, group.hooks[position + 1 :]))
                    break
            if failed_hard:
                break
        if failed_hard:
            stop_reason = "context canceled"
            break
        if not pending:
            break
        if clock() - start >= limit:
            stop_reason = "context deadline exceeded"
            break
        sleep(poll)
    for group in pending:
        for hook in group.hooks:
            run = HookRun(
                where,
                hook,
                ok=False,
                error=f"hook {hook.name} in container {hook.container} in pod {where} not executed: "
                f"{stop_reason or 'context canceled'}",
                started=clock(),
                finished=clock(),
            )
            runs.append(run)
            _log_failure(log, run, namespace, name)
    return runs


def _exec_problem(outcome: Any) -> str | None:
    if getattr(outcome, "timed_out", False):
        return "timed out"
    error = getattr(outcome, "error", None)
    code = getattr(outcome, "exit_code", None)
    if error:
        return str(error)
    if code not in (0, None):
        return f"command terminated with exit code {code}"
    if code is None:
        return "the command did not finish"
    return None


def _log_failure(log: BackupLog, run: HookRun, namespace: str, name: str) -> None:
    log.error(run.error, resource="pods", namespace=namespace, name=name)
