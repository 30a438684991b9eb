"""A whole restore in one process (tests, the bench), as `sequential_backup.run_local_backup` is for
backups: index the tarball, plan, restore the tiers in order (a tier's items on `spec.workers`
threads), wait for the CRDs a tier created before the next, run restored pods' post-restore hooks
beside the restore and wait for them at the end (as Velero's finalizer does), then write Velero's
three files of the restore.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from backups.engine.log import BackupLog

from .contents import BackupContents
from .context import RestoreContext
from .crds import wait_for_crds
from .hooks import HookRun, run_post_restore_hooks
from .item import ItemOutcome, restore_item
from .plan_types import RestorePlan
from .planner import plan_restore
from .results import CREATED, UPDATED, RestoreResults, write_restore_files
from .spec import RestoreSpec, restore_spec_problems
from .target import RestoreTarget

T = TypeVar("T")


@dataclass
class LocalRestoreResult:
    name: str
    phase: str
    plan: RestorePlan
    results: RestoreResults
    log: BackupLog
    outcomes: list[ItemOutcome] = field(default_factory=list)
    hooks: list[HookRun] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0
    tier_seconds: list[tuple[str, int, float]] = field(default_factory=list)  # (tier, items, seconds)

    @property
    def restored(self) -> int:
        return sum(1 for o in self.outcomes if o.result in (CREATED, UPDATED))


def run_lanes(items: list[T], workers: int, work: Callable[[T], None]) -> None:
    """`work(item)` for every item on `workers` threads that each take the next item when done
    (memory stays flat: no future per item, as a pool's map would make for 100,000 pods)."""
    if not items:
        return
    source = iter(items)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def lane() -> None:
        while not errors:
            with lock:
                item = next(source, None)
            if item is None:
                return
            try:
                work(item)
            except BaseException as exc:  # a bug: stop the lanes, raise in the caller
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=lane, name=f"restore-lane-{i}") for i in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def run_local_restore(
    tarball: str,
    spec: RestoreSpec,
    target: RestoreTarget,
    name: str,
    work_dir: str,
    *,
    backup: dict | None = None,
    volume_infos: list[dict] | None = None,
    out_dir: str | None = None,
    clock: Callable[[], float] = time.time,
    crd_timeout: float = 60.0,
    hook_wait: float = 600.0,
    keep_outcomes: bool = True,
) -> LocalRestoreResult:
    """Restore `tarball` into `target` (module docstring); the restore's files go into `out_dir`
    (default `<work_dir>/restores/<name>`). Raises ValueError for an invalid spec (nothing done)."""
    problems = restore_spec_problems(spec)
    if problems:
        raise ValueError("; ".join(f"{f}: {m}" for f, m in problems))
    started = clock()
    contents = BackupContents.open(
        tarball, os.path.join(work_dir, "contents"), backup=backup, volume_infos=volume_infos
    )
    ctx = RestoreContext(name, spec, contents, target, clock=clock)
    ctx.log.info(f"Starting restore of backup {spec.backup_name}")
    plan = plan_restore(contents, spec, target, dry_run=False, restore_name=name, context=ctx)
    outcomes: list[ItemOutcome] = []
    hook_futures: list[Future] = []
    tier_seconds: list[tuple[str, int, float]] = []
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="restore-hooks") as hook_pool:
        for tier in plan.tiers:
            items = tier.to_restore()
            t0 = time.monotonic()
            done: list[str] = []  # names restored (created or updated)
            lock = threading.Lock()

            def handle(outcome: ItemOutcome, done: list[str] = done, lock: threading.Lock = lock) -> None:
                if outcome.pod is not None and outcome.post_hooks:
                    hook_futures.append(
                        hook_pool.submit(
                            run_post_restore_hooks,
                            outcome.pod,
                            outcome.post_hooks,
                            target,
                            ctx.log,
                            max_wait=hook_wait,
                        )
                    )
                with lock:
                    if outcome.result in (CREATED, UPDATED):
                        done.append(outcome.item.name)
                    if keep_outcomes:
                        outcomes.append(outcome)

            run_lanes(items, spec.workers, lambda item: handle(restore_item(item, ctx)))
            if tier.waits_for_crds:
                wait_for_crds(done, ctx, timeout=crd_timeout)
            tier_seconds.append((tier.name, len(items), time.monotonic() - t0))
            if items:  # one line per tier, not per item: the log of 300,000 items stays small
                ctx.log.info(f"tier {tier.name}: restored {len(done)} of {len(items)} items")
        hooks: list[HookRun] = []
        for future in hook_futures:
            hooks.extend(future.result())
    for run in hooks:
        if not run.ok:
            ctx.results.error(run.pod.partition("/")[0], run.error)
    restored = sum(1 for _k in ctx.results.items)
    ctx.log.info(f"Restored {restored} items")
    phase = ctx.results.phase()
    finished = clock()
    folder = out_dir or os.path.join(work_dir, "restores", name)
    files = write_restore_files(folder, name, ctx.results, ctx.log.entries)
    contents.close()
    return LocalRestoreResult(
        name=name,
        phase=phase,
        plan=plan,
        results=ctx.results,
        log=ctx.log,
        outcomes=outcomes,
        hooks=hooks,
        files=files,
        started=started,
        finished=finished,
        tier_seconds=tier_seconds,
    )
