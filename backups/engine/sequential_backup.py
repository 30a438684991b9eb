"""A whole backup run sequentially into a local folder laid out as Velero's object store (spec 2 (d)).

`run_local_backup` plans the blocks, runs them one after the other (one archive member per block in a
staging folder), then writes `<out_dir>/backups/<name>/` with the writer the workers' finalize step
uses (`velero_format.backup_files`): the tarball (format 1.1.0, `metadata/version` first), the log,
the results, the resource list, the volume info, and `velero-backup.json` last, so its presence
means the backup is complete.

After the blocks, the CRDs of the custom resources backed up join the tarball as Velero adds them
(`crds`), in one more member after the blocks'.

Phase: Completed without error log entries, else PartiallyFailed (spec 2 (e)); progress totals are the
items written (Velero's final patch). A backup name that already exists is refused (ValueError) without
touching the existing folder, as Velero fails a backup whose name exists in the bucket.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.relations import Relation
from backups.engine.planning.spec import BackupSpec
from backups.engine.running.blocks import BlockResult, run_block
from backups.engine.running.crds import backup_crds
from backups.engine.running.csi_snapshots import snapshot_claim
from backups.engine.running.hook_runner import Executor
from backups.engine.running.hook_spec import ResourceHook, parse_resource_hooks
from backups.engine.velero_format.archive import BlockArchiveWriter, block_member_path, closed_members
from backups.engine.velero_format.backup_files import BackupFilesWriter
from backups.engine.velero_format.backup_json import (
    BackupJsonOptions,
    BackupJsonSpec,
    BackupJsonStatus,
    velero_backup_json,
)
from backups.engine.velero_format.layout import backup_dir
from backups.engine.velero_format.volume_info import volume_info

from .items import BlockPlan, ItemKey
from .log import BackupLog
from .source import LiveSource, Source

COMPLETED, PARTIALLY_FAILED = "Completed", "PartiallyFailed"


@dataclass
class LocalBackupResult:
    name: str
    path: str  # <out_dir>/backups/<name>
    phase: str
    errors: int
    warnings: int
    items_written: int
    planned_items: int
    hooks_attempted: int
    hooks_failed: int
    started: float
    finished: float
    plan: BlockPlan
    log: BackupLog
    blocks: list[BlockResult] = field(default_factory=list)
    crds: list[tuple[ItemKey, str]] = field(default_factory=list)

    @property
    def tarball(self) -> str:
        return os.path.join(self.path, f"{self.name}.tar.gz")

    @property
    def written(self) -> list[tuple[ItemKey, str]]:
        return [item for block in self.blocks for item in block.written] + self.crds


def _hooks(spec_hooks: Iterable, source: Source) -> tuple[list[ResourceHook], dict]:
    """Parsed hooks plus the `spec.hooks` value for velero-backup.json (raw entries when given raw)."""
    spec_hooks = list(spec_hooks)
    if spec_hooks and all(isinstance(h, Mapping) for h in spec_hooks):
        return parse_resource_hooks(spec_hooks, source.resources()), {"resources": spec_hooks}
    return spec_hooks, {}


def _snapshotter(source: LiveSource, table, backup_name: str, timeout: float):
    """CSI snapshots of the claims, the snapshot classes listed once (as the workers' lanes do)."""
    classes: list = []

    def take(pvc: dict, log: BackupLog):
        if not classes:
            info = table.by_group_resource("volumesnapshotclasses.snapshot.storage.k8s.io")
            classes.append(list(source.list(info)) if info else [])
        return snapshot_claim(
            pvc, source=source, table=table, backup_name=backup_name, log=log, timeout=timeout,
            snapshot_classes=classes[0],
        )  # fmt: skip

    return take


def _snapshot_classes(
    snapshots: list, already: set[ItemKey], writer: BlockArchiveWriter
) -> list[tuple[ItemKey, str]]:
    """The VolumeSnapshotClasses the snapshots used and the backup did not collect, written once."""
    written = []
    for obj in {
        s.snapshot_class["metadata"]["name"]: s.snapshot_class for s in snapshots if s.ok and s.snapshot_class
    }.values():
        key = ItemKey(
            "snapshot.storage.k8s.io",
            obj["apiVersion"].split("/")[-1],
            "volumesnapshotclasses",
            "",
            obj["metadata"]["name"],
        )
        if key not in already:
            already.add(key)
            writer.add_item(key, obj)
            written.append((key, "VolumeSnapshotClass"))
    return written


def run_local_backup(
    source: LiveSource,
    spec: BackupSpec,
    name: str,
    out_dir: str,
    *,
    spec_hooks: Iterable = (),
    ttl: str = "720h0m0s",
    clock: Callable[[], float] = time.time,
    executor: Executor | None = None,
    relations: list[Relation] | None = None,
    hooks_concurrency: int = 1,
    snapshot_volumes: bool = False,
    csi_snapshot_timeout: float = 60.0,
) -> LocalBackupResult:
    """Back up `source` per `spec` into `<out_dir>/backups/<name>/`. See the module docstring.

    `spec_hooks` are `spec.hooks.resources[]` entries, raw (Backup CR dicts) or parsed ResourceHooks.
    `executor` defaults to `source.exec`; `relations` replace Velero's built-in ones (an added plugin).
    `hooks_concurrency`: pods of a block whose hooks run at once (1, Velero's order, by default).
    `snapshot_volumes` takes a CSI snapshot of each bound claim as the workers do (the
    VolumeSnapshot and its content join the tarball, the claims their annotation, the volume info
    its entries, the snapshot classes used the tarball once).
    Raises ValueError when the backup already exists or the spec is invalid (nothing written then).
    """
    target = os.path.join(out_dir, backup_dir(name).rstrip("/"))
    if os.path.lexists(target):
        raise ValueError(f"backup {name!r} already exists at {target}")
    executor = executor if executor is not None else source.exec
    hooks, hooks_json = _hooks(spec_hooks, source)
    started = clock()
    log = BackupLog()
    plan = plan_item_blocks(source, spec, log, relations=relations, hooks=hooks)
    table = source.resources()

    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        os.mkdir(target)
    except FileExistsError:
        raise ValueError(f"backup {name!r} already exists at {target}") from None
    staging = tempfile.mkdtemp(prefix=f".{name}-staging-", dir=out_dir)
    done = False
    try:
        blocks: list[BlockResult] = []
        already: set[ItemKey] = set()
        snapshot = _snapshotter(source, table, name, csi_snapshot_timeout) if snapshot_volumes else None
        for index, block in enumerate(plan.blocks):
            with BlockArchiveWriter(block_member_path(staging, index)) as writer:
                blocks.append(
                    run_block(
                        block.keys(),
                        source=source,
                        table=table,
                        spec_hooks=hooks,
                        executor=executor,
                        writer=writer,
                        log=log,
                        clock=clock,
                        already_backed_up=already,
                        backup_name=name,
                        hooks_concurrency=hooks_concurrency,
                        snapshot=snapshot and (lambda pvc: snapshot(pvc, log)),
                    )
                )
        snapshots = [s for block in blocks for s in block.snapshots]
        infos = [info for info in map(volume_info, snapshots) if info]
        infos.sort(key=lambda info: not info.get("skipped"))  # Velero lists the skipped volumes first
        with BlockArchiveWriter(block_member_path(staging, len(plan.blocks))) as writer:
            types = set().union(*(b.backed_up_resources for b in blocks))
            crds = backup_crds(source, table, spec, types, already, writer, log)
            crds += _snapshot_classes(snapshots, already, writer)
        written = [item for block in blocks for item in block.written] + crds
        attempted = sum(b.hooks_attempted for b in blocks)
        failed = sum(b.hooks_failed for b in blocks)
        log.info(f"backed up {len(written)} items out of {plan.item_count} planned")

        errors, warnings = log.errors, log.warnings
        phase = PARTIALLY_FAILED if errors else COMPLETED
        files = BackupFilesWriter(target, name)
        files.write_contents(closed_members(staging), written, log.entries, infos)
        finished = clock()
        files.write_metadata(
            velero_backup_json(
                name,
                BackupJsonSpec.from_spec(spec, hooks=hooks_json),
                BackupJsonOptions(ttl=ttl),
                BackupJsonStatus(
                    phase=phase,
                    start=started,
                    completion=finished,
                    errors=errors,
                    warnings=warnings,
                    total_items=len(written),
                    items_backed_up=len(written),
                    hooks_attempted=attempted,
                    hooks_failed=failed,
                ),
            )
        )
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:
            shutil.rmtree(target, ignore_errors=True)
    return LocalBackupResult(
        name=name,
        path=target,
        phase=phase,
        errors=errors,
        warnings=warnings,
        items_written=len(written),
        planned_items=plan.item_count,
        hooks_attempted=attempted,
        hooks_failed=failed,
        started=started,
        finished=finished,
        plan=plan,
        log=log,
        blocks=blocks,
        crds=crds,
    )
