"""Kinds of run. A run is (kind, id): a backup is ("backup", its id), a restore ("restore", its
id). Batches, block runs, hook runs, owed post-hooks, leases and live progress are keyed by run,
so every kind shares the machinery (as NetBox's one JobRunner serves any object); a kind says which
model holds its runs, in which phase its batches may be claimed, and which tasks plan it, run its
batches and finalize it (enqueued by dotted path, see `backups.runs.queues`), and which module
holds what differs between kinds (`RunKind.ops`: ending a cancelled run, giving a batch up,
what follows when every batch handed out is done).

Adding a kind: ARCHITECTURE.md, "Add a run kind".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from django.db import models

from backups.models import Backup, Restore


@dataclass(frozen=True)
class RunKind:
    name: str  # the `run_kind` column of its rows, the prefix of its live group (`backup_12`)
    model: type[models.Model]  # its runs: a `phase`, the counters batches add to, `job_id`
    in_progress: str  # the phase in which its pending batches may be claimed
    dispatch_task: str  # plans a run and hands its first batches out
    batch_task: str  # runs a batch and goes on with the run's next ones
    finalize_task: str  # ends a run whose batches are all done
    # the foreign key of its rows (batches, block runs...) to its run, which deletes them with it;
    # None: rows keyed by (run_kind, run_id) alone
    row_fk: str | None
    ready: str = ""  # the phase in which its dispatch job is queued
    finalizing: str = ""  # the phase of its finalize step
    # the module of what differs between kinds, imported when first asked (it imports the
    # machinery, which imports this): `cancel_finish(run_id, by_job=None) -> bool`,
    # `give_up(batch, reason)`, `batches_done(run_id) -> bool` (True: it handed more batches out,
    # a restore's next tier) and `fail(run_id, reason)`
    ops_module: str = ""
    job_prefix: str = ""  # before the batch jobs' ids, so two kinds' runs with one id never share one

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def ops(self) -> ModuleType:
        return importlib.import_module(self.ops_module)


KINDS: dict[str, RunKind] = {}


def register(kind: RunKind) -> RunKind:
    """Make `kind` known to the machinery (the watchdog, the SQL of batches, the tasks)."""
    KINDS[kind.name] = kind
    return kind


def kind_of(name: str) -> RunKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown run kind {name!r}; known: {', '.join(sorted(KINDS))}") from None


BACKUP = register(
    RunKind(
        name="backup",
        model=Backup,
        in_progress=Backup.Phase.IN_PROGRESS,
        dispatch_task="backups.runs.tasks.dispatch_backup",
        batch_task="backups.runs.tasks.run_batch",
        finalize_task="backups.runs.tasks.finalize_backup",
        row_fk="backup",
        ready=Backup.Phase.READY,
        finalizing=Backup.Phase.FINALIZING,
        ops_module="backups.runs.backup_ops",
    )
)
RESTORE = register(
    RunKind(
        name="restore",
        model=Restore,
        in_progress=Restore.Phase.IN_PROGRESS,
        dispatch_task="backups.runs.tasks.dispatch_restore",
        batch_task="backups.runs.tasks.run_restore_batch",
        finalize_task="backups.runs.tasks.finalize_restore",
        row_fk="restore",
        ready=Restore.Phase.NEW,
        finalizing=Restore.Phase.FINALIZING,
        ops_module="backups.runs.restore_ops",
        job_prefix="restore-",
    )
)
