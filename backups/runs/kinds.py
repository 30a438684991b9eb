"""Kinds of run. A run is (kind, id): a backup is ("backup", its id); a restore will be the next
kind. Batches, block runs, hook runs, owed post-hooks, leases and live progress are keyed by run,
so every kind shares the machinery (as NetBox's one JobRunner serves any object); a kind says which
model holds its runs, in which phase its batches may be claimed, and which tasks plan it, run its
batches and finalize it (enqueued by dotted path, see `backups.runs.queues`).

Adding a kind: ARCHITECTURE.md, "Add a run kind".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models

from backups.models import Backup


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

    @property
    def table(self) -> str:
        return self.model._meta.db_table


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
    )
)
