"""Running one ItemBlock: pre-hooks of its pods, then its items, then post-hooks (spec part 1 items 5, 6).

`run_block` is what a worker does with one block of a plan:

1. fetch every item of the block fresh with `source.get` (the plan keeps keys only). An item gone since
   planning is a warning and is skipped; a failed read (SourceError) is an error naming the item, and the
   block goes on without it;
2. run the pre-hooks of the block's pods (those not already backed up), pod after pod or several
   pods at once (`hooks_concurrency`), each pod's own in order, all finished before step 3;
3. write every item in block order to the block's `BlockArchiveWriter`, except
   - pods whose `Fail` pre-hook failed (not written, not counted; the hook error is already logged),
   - everything, when a `FailBlock` pre-hook failed (each item recorded as skipped "pre-hook FailBlock");
4. run the post-hooks of the pods whose pre-hooks passed, even when the block was dropped, cancelled
   or writing raised (a frozen filesystem must be thawed).

A block with hooks asks `cancelled()` after its pre-hooks: a cancelled backup writes none of its items
and goes straight to the post-hooks. `owe_post_hooks(pods)` hears, as each pod's pre-hooks pass, every
pod whose post-hooks are owed so far (as `hook_view`s), and `post_hooks_ran()` that they ran: the
caller keeps that record durable, so the post-hooks of a worker that dies in between can be run by
another process (a frozen database is not left frozen until the block is redone).

Claims are written as Velero's PVC item actions leave them (`item_actions`). With a `snapshot`
callable, each claim is written after its CSI snapshot, carrying the annotation that names it, followed
by the VolumeSnapshot and its content; this sits between the other items and the post-hooks.

Timestamps from `clock` (`started`, `items_started`, `items_finished`, `finished`) let callers prove the
ordering: every pre-hook finished at or before `items_started`, every post-hook started at or after
`items_finished`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from backups.engine.items import ItemKey
from backups.engine.log import BackupLog
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import Source, SourceError
from backups.engine.velero_format.archive import BlockArchiveWriter
from backups.engine.velero_format.layout import InvalidItemPath

from .csi_snapshots import SnapshotResult
from .hook_runner import BlockHookOutcome, Executor, HookResult, run_block_hooks
from .hook_spec import POST, PRE, ResourceHook, has_hooks, hook_view, hooks_for_pod
from .item_actions import mark_snapshot, prepare_claim

SKIP_GONE = "not found: deleted since the backup was planned"
SKIP_ALREADY = "already backed up"
SKIP_FAIL_BLOCK = "pre-hook FailBlock"
SKIP_FAIL_POD = "pre-hook failed (onError Fail)"
SKIP_READ_ERROR = "error reading the item"
SKIP_UNKNOWN = "resource not served by the cluster"
SKIP_UNWRITABLE = "name cannot be written to a backup"
SKIP_CANCELLED = "the backup was cancelled"


@dataclass
class BlockResult:
    """What one block did. `written` holds `(key, kind)` of every item in the block's archive member."""

    written: list[tuple[ItemKey, str]] = field(default_factory=list)
    additional: list[ItemKey] = field(default_factory=list)  # written, but not block items (snapshots)
    skipped: list[tuple[ItemKey, str]] = field(default_factory=list)
    pre: BlockHookOutcome = field(default_factory=lambda: BlockHookOutcome(PRE))
    post: BlockHookOutcome = field(default_factory=lambda: BlockHookOutcome(POST))
    started: float = 0.0
    items_started: float = 0.0
    items_finished: float = 0.0
    finished: float = 0.0
    snapshots: list[SnapshotResult] = field(default_factory=list)
    cancelled: bool = False  # the backup was cancelled after the block's pre-hooks: nothing written

    @property
    def failed_block(self) -> bool:
        return self.pre.fail_block

    @property
    def hook_results(self) -> list[HookResult]:
        return self.pre.results + self.post.results

    @property
    def hooks_attempted(self) -> int:
        return self.pre.attempted + self.post.attempted

    @property
    def hooks_failed(self) -> int:
        return self.pre.failed + self.post.failed

    @property
    def backed_up_resources(self) -> set[str]:
        """Group resources of the block's own items written (Velero's list for the CRD step)."""
        extra = set(self.additional)
        return {key.group_resource for key, _ in self.written if key not in extra}

    def skip_reason(self, key: ItemKey) -> str | None:
        return next((reason for k, reason in self.skipped if k == key), None)


def _write_snapshot_objects(
    taken: SnapshotResult, table: ResourceTable, writer: BlockArchiveWriter, already: set, result: BlockResult
) -> None:
    # The class is shared by many blocks: the caller writes it once for the backup (no duplicate entry).
    for obj in (taken.volume_snapshot, taken.volume_snapshot_content):
        if not obj:
            continue
        info = table.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
        if info is None:
            continue
        meta = obj.get("metadata") or {}
        key = ItemKey(
            info.group,
            info.version,
            info.resource,
            meta.get("namespace", "") if info.namespaced else "",
            meta["name"],
        )
        if key in already:
            continue
        writer.add_item(key, obj)
        already.add(key)
        result.written.append((key, info.kind))
        result.additional.append(key)


def _write(
    writer: BlockArchiveWriter,
    key: ItemKey,
    obj: dict | bytes,
    preferred: bool,
    kind: str,
    already: set,
    result: BlockResult,
) -> None:
    writer.add_item(key, obj, preferred=preferred)
    already.add(key)
    result.written.append((key, kind))


def _write_or_skip(
    writer: BlockArchiveWriter,
    key: ItemKey,
    obj: dict | bytes,
    preferred: bool,
    kind: str,
    already: set,
    result: BlockResult,
    log: BackupLog,
) -> None:
    """Write one item; an item whose name no backup path can hold fails alone (an error naming it)
    and the block goes on: one odd object must not cost the batch its other items."""
    try:
        _write(writer, key, obj, preferred, kind, already, result)
    except InvalidItemPath as error:
        log.error(f"item not backed up: {error}", **_where(key))
        result.skipped.append((key, SKIP_UNWRITABLE))


def _where(key: ItemKey) -> dict:
    return {"resource": key.group_resource, "namespace": key.namespace, "name": key.name}


def _fetch(
    keys: Iterable[ItemKey],
    source: Source,
    table: ResourceTable,
    log: BackupLog,
    result: BlockResult,
    already: set,
    read: Callable[[ItemKey, ResourceInfo], dict | bytes | None] | None = None,
) -> list[tuple[ItemKey, Any, bool, str]]:
    """(key, object, preferred, kind) for every item that still exists, in block order; the object
    is a dict, or the raw JSON bytes from the spool for an item the block does not look inside."""
    fetched: list[tuple[ItemKey, Any, bool, str]] = []
    for key in keys:
        if key in already:
            result.skipped.append((key, SKIP_ALREADY))
            continue
        info = table.by_group_resource(key.group_resource)
        if info is None:
            log.error(f"unable to find resource {key.group_resource} in discovery", **_where(key))
            result.skipped.append((key, SKIP_UNKNOWN))
            continue
        preferred = key.version == info.version
        if not preferred:
            info = dataclasses.replace(info, version=key.version)
        try:
            obj = read(key, info) if read is not None else source.get(info, key.namespace or None, key.name)
        except SourceError as error:
            log.error(f"error getting item {key}: {error}", **_where(key))
            result.skipped.append((key, SKIP_READ_ERROR))
            continue
        if obj is None:
            log.warning(
                f"item {key} was not found (deleted since the backup was planned), skipped", **_where(key)
            )
            result.skipped.append((key, SKIP_GONE))
            continue
        if isinstance(obj, bytes):
            # raw JSON from the spool: decoded only where the block needs to look inside
            if key.is_pod or key.is_claim:
                obj = orjson.loads(obj)
            fetched.append((key, obj, preferred, info.kind))
            continue
        fetched.append((key, obj, preferred, str(obj.get("kind") or info.kind)))
    return fetched


def run_block(
    block_keys: list[ItemKey],
    *,
    source: Source,
    table: ResourceTable,
    spec_hooks: list[ResourceHook],
    executor: Executor,
    writer: BlockArchiveWriter,
    log: BackupLog,
    clock: Callable[[], float] = time.time,
    already_backed_up: set | None = None,
    read: Callable[[ItemKey, ResourceInfo], dict | bytes | None] | None = None,
    snapshot: Callable[[dict], SnapshotResult | None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    backup_name: str = "",
    cancelled: Callable[[], bool] | None = None,
    owe_post_hooks: Callable[[list[dict]], None] | None = None,
    post_hooks_ran: Callable[[], None] | None = None,
    hooks_concurrency: int = 1,
) -> BlockResult:
    """Back up one block into `writer` (the caller closes or aborts it). See the module docstring.

    `already_backed_up` (ItemKeys) makes items in it no-ops and keeps their pods' hooks from running
    again; items written here are added to it. Errors on single items are logged and the block goes
    on; an exception from the writer propagates after the post-hooks have run. `read` replaces
    `source.get` for reading the items (block jobs read the collection spool, as Velero reads its
    per-item temp files: objects as collected). `snapshot(pvc)` takes the CSI snapshot of each
    claim, after the other items and before the post-hooks; the claim (annotated with its snapshot
    when one was taken), the VolumeSnapshot and its content are then written, as Velero's CSI
    plugin adds them (the class is written once per backup by the caller). `backup_name` tells
    the claim action which `velero.io/backup-name` label is stale. `on_phase` hears
    "pre-hooks", "items", "snapshots" and "post-hooks" as the block reaches them (live progress).
    `hooks_concurrency`: how many pods run their hooks at once (1: pod after pod, as Velero; see
    `hook_runner`); either way every pre-hook ends before the first item is written.
    """
    phase = on_phase or (lambda name: None)
    already = already_backed_up if already_backed_up is not None else set()
    result = BlockResult(started=clock())
    items = _fetch(block_keys, source, table, log, result, already, read)

    pods = [obj for key, obj, _, _ in items if key.is_pod]
    claims = [obj for key, obj, _, _ in items if key.is_claim]
    hooked = [p for p in pods if has_hooks(p, spec_hooks)]
    if not hooked and not (snapshot and claims):
        phase = lambda name: None  # noqa: E731 - nothing worth showing step by step
    if hooked:
        phase("pre-hooks")
    owed: list[dict] = []

    def passed(pod: dict) -> None:
        if owe_post_hooks is None or not hooks_for_pod(pod, POST, list(spec_hooks))[0]:
            return
        owed.append(hook_view(pod))
        try:
            owe_post_hooks(list(owed))
        except Exception as error:  # noqa: BLE001 - the record is a safety net; the block goes on
            meta = owed[-1]["metadata"]
            pod_ref = f"{meta.get('namespace')}/{meta.get('name')}"
            log.warning(f"post-hooks owed to pod {pod_ref} not recorded: {error}")

    on_passed = passed if owe_post_hooks is not None else None
    result.pre = run_block_hooks(
        pods, PRE, list(spec_hooks), executor, log, clock, on_passed=on_passed, concurrency=hooks_concurrency
    )
    failed_pods = set(result.pre.failed_pods)
    try:
        result.cancelled = bool(hooked and cancelled is not None and cancelled())
        phase("items")
        result.items_started = clock()
        if result.cancelled:
            log.info(f"block of {len(block_keys)} items not backed up: the backup was cancelled")
            result.skipped.extend((key, SKIP_CANCELLED) for key, *_ in items)
        elif result.pre.fail_block:
            failing = ", ".join(f"{ns}/{name}" for ns, name in result.pre.failed_pods)
            log.info(
                f"block of {len(block_keys)} items not backed up: FailBlock pre-hook failed in pod {failing}"
            )
            result.skipped.extend((key, SKIP_FAIL_BLOCK) for key, *_ in items)
        else:
            after_snapshot = []
            for key, obj, preferred, kind in items:
                if key.is_pod and (key.namespace, key.name) in failed_pods:
                    result.skipped.append((key, SKIP_FAIL_POD))
                    continue
                if key.is_claim:
                    if snapshot is not None:
                        after_snapshot.append((key, obj, preferred, kind))
                        continue
                    obj = prepare_claim(obj, backup_name)
                _write_or_skip(writer, key, obj, preferred, kind, already, result, log)
            result.items_finished = clock()
            if after_snapshot:
                phase("snapshots")
            for key, pvc, preferred, kind in after_snapshot:
                body = prepare_claim(pvc, backup_name)
                # the snapshot copies the claim's labels as written
                taken = snapshot(body) if snapshot is not None else None
                if taken is not None:
                    result.snapshots.append(taken)
                if taken is not None and taken.ok and taken.volume_snapshot is not None:
                    body = mark_snapshot(body, taken.volume_snapshot["metadata"]["name"], backup_name)
                _write_or_skip(writer, key, body, preferred, kind, already, result, log)
                if taken is not None and taken.ok:
                    _write_snapshot_objects(taken, table, writer, already, result)
        result.items_finished = result.items_finished or clock()
    finally:
        if not result.items_finished:
            result.items_finished = clock()
        if hooked and result.pre.post_pods:
            phase("post-hooks")
        result.post = run_block_hooks(
            result.pre.post_pods, POST, list(spec_hooks), executor, log, clock, concurrency=hooks_concurrency
        )
        result.finished = clock()
        if owed and post_hooks_ran is not None:
            post_hooks_ran()
    return result
