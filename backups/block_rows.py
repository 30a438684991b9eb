"""BlockRun rows written in bulk with plain SQL, and the live step of running blocks.

A backup of a 300,000-object cluster has 300,000 rows, and a latency-bound block leaves a lane
little CPU: Django's bulk_create and bulk_update spend more building statements than running
them. `write_turn` is how the threads (lanes) of one process take turns at writing: SQLite lets
one writer in at a time, and its busy handler sleeps up to 100 ms between tries, while a waiter
on this lock wakes as soon as it is free.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime

from django.db import connection

from backups import progress
from backups.models import BlockRun

logger = logging.getLogger(__name__)
write_turn = threading.RLock()
RESULT_COLUMNS = (
    "state",
    "items_written",
    "items_skipped",
    "errors",
    "warnings",
    "attempts",
    "started",
    "finished",
)
_FINAL = (BlockRun.State.DONE, BlockRun.State.FAILED)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_block_runs(rows: list[tuple]) -> None:
    """One row per block: (backup_id, index, batch, item_count, first_item, pods)."""
    columns = ("backup_id", "index", "batch", "item_count", "first_item", "pods")
    defaults = {
        "state": BlockRun.State.QUEUED,
        "attempts": 0,
        "items_written": 0,
        "items_skipped": 0,
        "errors": 0,
        "warnings": 0,
    }
    names = ", ".join(_quote(c) for c in (*columns, *defaults))
    marks = ", ".join(["%s"] * (len(columns) + len(defaults)))
    extra = tuple(defaults.values())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 5000):
            cursor.executemany(
                f"INSERT INTO {_quote(BlockRun._meta.db_table)} ({names}) VALUES ({marks})",
                [row + extra for row in rows[start : start + 5000]],
            )


def update_block_runs(backup_id: int, columns: tuple[str, ...], rows: list[tuple], unfinished=False) -> None:
    """Set `columns` of the backup's BlockRun rows; each row is the values, then the block index.
    With `unfinished`, rows already done or failed are left as they are."""
    if not rows:
        return
    assignments = ", ".join(f"{_quote(c)} = %s" for c in columns)
    sql = (
        f"UPDATE {_quote(BlockRun._meta.db_table)} SET {assignments} "
        f"WHERE {_quote('backup_id')} = %s AND {_quote('index')} = %s"
    )
    tail: tuple = ()
    if unfinished:
        sql += f" AND {_quote('state')} NOT IN (%s, %s)"
        tail = _FINAL
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(*row[:-1], backup_id, row[-1], *tail) for row in rows])


def db_time(timestamp: float):
    """A time.time() value as the database backend stores a DateTimeField."""
    return connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(timestamp, tz=UTC))


class LiveSteps:
    """The step each running block is at (pre-hooks, items, snapshots, post-hooks), written by
    one thread per process so a lane never waits for it: the steps noted meanwhile go in one
    statement, a newer step of a block replaces an older one, and a block's final state, which
    its batch's commit writes, is never overwritten. A step not written before the process ends
    is lost, and only the dashboard misses it."""

    def __init__(self):
        self._pid: int | None = None
        self._changed = threading.Condition()
        self._steps: dict[tuple[int, int], str] = {}

    def note(self, backup_id: int, index: int, step: str) -> None:
        with self._changed:
            if self._pid != os.getpid():  # first use, or a forked child: its own writer
                self._pid, self._steps = os.getpid(), {}
                threading.Thread(target=self._run, name="block-steps", daemon=True).start()
            self._steps[(backup_id, index)] = step
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._steps:
                    self._changed.wait()
                steps, self._steps = self._steps, {}
            by_backup: dict[int, list[tuple]] = {}
            for (backup_id, index), step in steps.items():
                by_backup.setdefault(backup_id, []).append((step, index))
            for backup_id, rows in by_backup.items():
                try:
                    with write_turn:
                        update_block_runs(backup_id, ("state",), rows, unfinished=True)
                except Exception:  # noqa: BLE001 - the dashboard shows the block's outcome anyway
                    logger.warning("steps of backup %s not recorded", backup_id, exc_info=True)
                    connection.close()
                    continue
                progress.blocks_changed(backup_id, [index for _, index in rows])


live_steps = LiveSteps()
