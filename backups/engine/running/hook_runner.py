"""Running one ItemBlock's exec hooks (spec part 2 (b); which hooks a pod has: `hook_spec`).

Per block: all pre-hooks of the block's pods, then the items, then all post-hooks (`run_block_hooks`
is called once per phase). A failed `Fail` pre-hook means the pod is not written; a failed
`FailBlock` pre-hook drops the whole block, and the post-hooks of the pods whose pre-hooks passed
still run (Velero #8858, PR #10177).

Velero runs the pods of a block one after another, so with three database replicas each frozen by
a 4 s hook, the first stays frozen 12 s. With `concurrency` > 1 the pods run at once (at most that
many), each pod's own hooks still in their order; the phase returns only when every pod is done,
so all pre-hooks end before any item is written and post-hooks start after the items and
snapshots, as Velero's ItemBlock design requires. Results and log lines come out in pod order
either way (each pod logs to its own buffer), so only the timing differs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from backups.engine.log import BackupLog
from backups.engine.source import ExecOutcome

from .hook_spec import (
    CONTINUE,
    FAIL_BLOCK,
    FINISHED_PHASES,
    PODS,
    POST,
    PRE,
    ExecHook,
    ResourceHook,
    container_problem,
    hooks_for_pod,
)

OUTPUT_LIMIT = 64 * 1024  # bytes of stdout/stderr kept per hook (the last ones)
HOOK_PODS_AT_ONCE = 8  # pods of one block whose hooks run at once, when hooks run concurrently
CONCURRENT, SEQUENTIAL = "concurrent", "sequential"  # a backup's hooks_concurrency


def pods_at_once(mode: str) -> int:
    """A backup's `hooks_concurrency` as the runner's bound: sequential is Velero's one pod at a time."""
    return HOOK_PODS_AT_ONCE if mode == CONCURRENT else 1


@dataclass(slots=True)
class HookResult:
    """What happened to one hook: run (with its output), failed before running, or skipped."""

    namespace: str
    pod: str
    container: str | None
    phase: str
    source: str
    command: list[str]
    on_error: str = CONTINUE
    on_error_set: bool = False
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    timed_out: bool = False
    started: float = 0.0
    finished: float = 0.0
    duration: float = 0.0
    skipped_reason: str | None = None

    @property
    def skipped(self) -> bool:
        return self.skipped_reason is not None

    @property
    def failed(self) -> bool:
        return self.skipped_reason is None and self.error is not None

    def as_dict(self) -> dict:
        return asdict(self)


Executor = Callable[[str, str, str | None, list[str], float], ExecOutcome]


# ---------------------------------------------------------------------------------------- the runner


@dataclass
class BlockHookOutcome:
    """One phase of one block's hooks.

    Pre phase: `failed_pods` (ns, name) must not be written nor counted as backed up; `fail_block`
    means no item of the block is written and no snapshot taken; `post_pods` are the pods to pass to
    the post phase. In the post phase failures are only logged, so those three stay empty/False.
    """

    phase: str
    results: list[HookResult] = field(default_factory=list)
    failed_pods: list[tuple[str, str]] = field(default_factory=list)
    fail_block: bool = False
    post_pods: list[dict] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        """Every registered hook, including skipped ones (Velero's hook tracker)."""
        return len(self.results)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.failed)


def _tail(text: str | None, limit: int = OUTPUT_LIMIT) -> str:
    """The last `limit` bytes of `text` (UTF-8), dropping a character cut in half."""
    if not text:
        return ""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    return data[-limit:].decode("utf-8", errors="ignore")


def _failure(outcome: ExecOutcome, timeout: float) -> str | None:
    """Why an exec failed (error set, timed out, or a non-zero exit code), or None."""
    error = getattr(outcome, "error", None)
    if error:
        return str(error)
    if getattr(outcome, "timed_out", False):
        return f"timed out after {timeout:g}s"
    exit_code = getattr(outcome, "exit_code", None)
    if exit_code is None:
        return "command did not report an exit code"
    if exit_code != 0:
        return f"command exited with code {exit_code}"
    return None


def _describe(result: HookResult) -> str:
    return (
        f"{result.phase} hook {result.source} in container {result.container!r}: "
        f"command {json.dumps(result.command)}"
    )


def run_block_hooks(
    pods: list[dict],
    phase: str,
    spec_hooks: list[ResourceHook],
    executor: Executor,
    log: BackupLog,
    clock: Callable[[], float] = time.time,
    on_passed: Callable[[dict], None] | None = None,
    concurrency: int = 1,
) -> BlockHookOutcome:
    """Run `phase` hooks of a block's pods, each pod's hooks in order; pod after pod (Velero's
    order, `concurrency` 1), or up to `concurrency` pods at once. Returns when every pod is done.

    Within one pod, after a failed Fail/FailBlock hook the remaining hooks are skipped (still counted as
    attempted). Other pods of the block still run their hooks, as in Velero and PR #10177, so that every
    pod whose pre-hooks passed gets its post-hooks even when the block is dropped. `on_passed(pod)`
    hears each pod whose pre-hooks passed, at once (from a hook thread, one call at a time): from
    then on its post-hooks are owed.
    """
    if phase not in (PRE, POST):
        raise ValueError(f"hook phase must be {PRE!r} or {POST!r}, not {phase!r}")
    outcome = BlockHookOutcome(phase)
    lock = threading.Lock()

    def passed(pod: dict) -> None:
        if on_passed is not None:
            with lock:
                on_passed(pod)

    def one(pod: dict, pod_log: BackupLog) -> tuple[list[HookResult], HookResult | None]:
        return _run_pod(pod, phase, spec_hooks, executor, pod_log, clock, passed)

    busy = sum(1 for pod in pods if hooks_for_pod(pod, phase, spec_hooks)[0])  # pods with hooks to run
    if concurrency <= 1 or busy <= 1:
        ran = [one(pod, log) for pod in pods]
    else:
        logs = [BackupLog() for _ in pods]
        with ThreadPoolExecutor(max_workers=min(concurrency, busy), thread_name_prefix="hooks") as pool:
            futures = [pool.submit(one, pod, pod_log) for pod, pod_log in zip(pods, logs, strict=True)]
            ran = [future.result() for future in futures]
        for pod_log in logs:
            log.extend(pod_log.entries)
    for pod, (results, stop) in zip(pods, ran, strict=True):
        outcome.results.extend(results)
        if phase == POST:
            continue
        if stop is None:
            outcome.post_pods.append(pod)
        else:
            meta = pod.get("metadata") or {}
            outcome.failed_pods.append((meta.get("namespace") or "", meta.get("name") or ""))
            outcome.fail_block = outcome.fail_block or stop.on_error == FAIL_BLOCK
    return outcome


def _run_pod(
    pod: dict,
    phase: str,
    spec_hooks: list[ResourceHook],
    executor: Executor,
    log: BackupLog,
    clock: Callable[[], float],
    passed: Callable[[dict], None],
) -> tuple[list[HookResult], HookResult | None]:
    """One pod's hooks of `phase`, in order: the results and the Fail/FailBlock hook that failed."""
    meta = pod.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    where = {"resource": PODS, "namespace": namespace, "name": name}
    hooks, warnings = hooks_for_pod(pod, phase, spec_hooks)
    for warning in warnings:
        log.warning(warning, **where)
    pod_phase = (pod.get("status") or {}).get("phase")
    results: list[HookResult] = []
    stop: HookResult | None = None
    for hook in hooks:
        result = HookResult(
            namespace=namespace,
            pod=name,
            container=hook.container,
            phase=phase,
            source=hook.source,
            command=list(hook.command),
            on_error=hook.on_error,
            on_error_set=hook.on_error_set,
        )
        results.append(result)
        if pod_phase in FINISHED_PHASES:
            _skip(result, f"pod is not running (phase {pod_phase})", clock, log, where)
            continue
        if stop is not None:
            _skip(result, "previous hook failed", clock, log, where)
            continue
        _run(result, hook, pod, executor, clock)
        if not result.failed:
            log.info(f"{_describe(result)} succeeded in {result.duration:.3f}s", **where)
            continue
        if hook.stops_on_failure:
            stop = result
        code = "none" if result.exit_code is None else result.exit_code
        message = f"{_describe(result)} failed (exit code {code}): {result.error}"
        log.error(message + _consequence(hook, phase), **where)
    if phase == PRE and stop is None:
        passed(pod)
    return results, stop


def _consequence(hook: ExecHook, phase: str) -> str:
    """The failure's effect, so that the one error line per failed hook says it all."""
    mode = hook.on_error if hook.on_error_set else f"{CONTINUE} (default)"
    text = f"; onError {mode}"
    if hook.stops_on_failure:
        text += ": the remaining hooks of this pod are skipped"
        if phase == PRE:
            text += (
                "; the block is not backed up"
                if hook.on_error == FAIL_BLOCK
                else "; the pod is not backed up"
            )
    return text


def _skip(result: HookResult, reason: str, clock, log: BackupLog, where: dict) -> None:
    result.started = result.finished = clock()
    result.skipped_reason = reason
    log.info(f"{_describe(result)} skipped: {reason}", **where)


def _run(result: HookResult, hook: ExecHook, pod: Mapping, executor: Executor, clock) -> None:
    """Fill `result` by running `hook`, or by recording why it could not run."""
    result.started = clock()
    problem = hook.invalid or container_problem(pod, hook.container)
    if problem:
        result.error = problem
        result.finished = clock()
        return
    try:
        outcome = executor(result.namespace, result.pod, hook.container, list(hook.command), hook.timeout)
    except Exception as exc:  # noqa: BLE001 - an executor that raises is a failed hook, not a crashed block
        result.finished = clock()
        result.duration = result.finished - result.started
        result.error = f"exec failed: {exc}"
        return
    result.finished = clock()
    result.exit_code = getattr(outcome, "exit_code", None)
    result.stdout = _tail(getattr(outcome, "stdout", ""))
    result.stderr = _tail(getattr(outcome, "stderr", ""))
    result.timed_out = bool(getattr(outcome, "timed_out", False))
    result.error = _failure(outcome, hook.timeout)
    duration = getattr(outcome, "duration", None)
    result.duration = float(duration) if duration is not None else result.finished - result.started
