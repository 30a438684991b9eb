"""The RQ entry points of the run machinery: thin calls, arguments are ids only.

Each takes its own job id from RQ and hands over to the module that does the work; queue names,
timeouts and job ids are in `backups.runs.queues`.
"""

from __future__ import annotations

import functools

from backups.live import progress
from backups.runs import finalize, planning, queues, restore_finalize, restore_lanes, restore_planning
from backups.runs.lanes import run_job


def _rq_task(func):
    """An RQ entry point: the progress it sent reaches Redis before its work horse exits."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        finally:
            progress.flush()

    return run


@_rq_task
def dispatch_backup(backup_id: int) -> None:
    """Plan the backup and hand its first batches out (queue `default`)."""
    planning.dispatch(backup_id, queues.current_job_id())


@_rq_task
def run_batch(backup_id: int, number: int, lanes: int = 1) -> None:
    """Back up batch `number` and go on with the backup's next batches on `lanes` lanes (queue
    `blocks`)."""
    run_job(backup_id, number, lanes, queues.current_job_id() or "")


@_rq_task
def finalize_backup(backup_id: int) -> None:
    """Assemble, write and upload Velero's files (queue `default`)."""
    finalize.finalize(backup_id, queues.current_job_id())


@_rq_task
def dispatch_restore(restore_id: int) -> None:
    """Fetch the backup, plan the restore's tiers and hand the first tier's batches out (queue
    `default`)."""
    restore_planning.dispatch(restore_id, queues.current_job_id())


@_rq_task
def run_restore_batch(restore_id: int, number: int, lanes: int = 1) -> None:
    """Restore batch `number`'s items and go on with the tier's next batches on `lanes` lanes
    (queue `blocks`)."""
    restore_lanes.run_job(restore_id, number, lanes, queues.current_job_id() or "")


@_rq_task
def finalize_restore(restore_id: int) -> None:
    """Post-restore hooks, results and Velero's files of the restore (queue `default`)."""
    restore_finalize.finalize(restore_id, queues.current_job_id())
