"""What the machinery asks of a backup run (`RunKind.ops` of the "backup" kind): the generic
parts (`batches.maybe_finalize`, the watchdog's batch recovery) call these."""

from __future__ import annotations

from backups.models import Backup, BlockBatch
from backups.runs import batches, cancel, steps
from backups.runs.staging import Staging


def cancel_finish(run_id: int, by_job: str | None = None) -> bool:
    return cancel.finish(run_id, by_job=by_job)


def give_up(batch: BlockBatch, reason: str) -> None:
    if batch.backup is None:
        batch.backup = Backup.objects.get(pk=batch.run_id)
    batches.give_up(batch, reason, Staging.of(batch.backup))


def batches_done(run_id: int) -> bool:
    """A backup's batches are all handed out at once: nothing follows them but finalize."""
    return False


def fail(run_id: int, reason: str) -> None:
    steps.fail(run_id, reason)
