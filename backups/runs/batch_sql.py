"""The statements a batch job runs per batch, in plain SQL, and the live step of running blocks.
Rows are keyed by run (kind, id, `backups.runs.kinds`); a run's counters are on its kind's model.

A backup of a 300,000-object cluster has 300,000 BlockRun rows, and 16 lanes finishing
latency-bound blocks at once on two cores leave each little CPU: the ORM spends more building
these few statements (bulk_create, bulk_update, F() updates) than the database running them, so
each is built once per shape and kept. `write_turn` is how the threads (lanes) of one process
take turns at writing: SQLite lets one writer in at a time, and its busy handler sleeps up to
100 ms between tries, while a waiter on this lock wakes as soon as it is free.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from datetime import UTC, datetime

from django.db import connection

from backups.live import progress
from backups.models import BlockBatch, BlockRun, HookRun
from backups.runs.kinds import RunKind

logger = logging.getLogger(__name__)
write_turn = threading.RLock()
RESULT_COLUMNS = (
    "state",
    "items_written",
    "snapshot_objects",
    "items_skipped",
    "errors",
    "warnings",
    "attempts",
    "started",
    "finished",
)
_FINAL = (BlockRun.State.DONE, BlockRun.State.FAILED, BlockRun.State.CANCELLED)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _run_columns(kind: RunKind) -> tuple[str, ...]:
    return ("run_kind", "run_id", f"{kind.row_fk}_id") if kind.row_fk else ("run_kind", "run_id")


def _run_values(kind: RunKind, run_id: int) -> tuple:
    return (kind.name, run_id, run_id) if kind.row_fk else (kind.name, run_id)


def insert_block_runs(kind: RunKind, run_id: int, rows: list[tuple]) -> None:
    """One row per block of the run: (index, batch, item_count, first_item, pods)."""
    columns = (*_run_columns(kind), "index", "batch", "item_count", "first_item", "pods")
    run = _run_values(kind, run_id)
    defaults = {
        "state": BlockRun.State.QUEUED,
        "attempts": 0,
        "items_written": 0,
        "snapshot_objects": 0,
        "items_skipped": 0,
        "errors": 0,
        "warnings": 0,
    }
    extra = tuple(defaults.values())
    for start in range(0, len(rows), 5000):
        insert_rows(
            BlockRun, (*columns, *defaults), [run + row + extra for row in rows[start : start + 5000]]
        )


def insert_hook_runs(kind: RunKind, run_id: int, hooks: list[tuple[int, object]]) -> None:
    """A HookRun row for each (block index, HookResult) of the run."""
    command = HookRun._meta.get_field("command")
    rows = [
        (
            *_run_values(kind, run_id),
            index,
            h.phase,
            h.namespace,
            h.pod,
            h.container or "",
            h.source,
            command.get_db_prep_save(list(h.command), connection),
            h.on_error,
            h.exit_code,
            h.stdout or "",
            h.stderr or "",
            h.error or "",
            h.timed_out,
            h.skipped_reason or "",
            h.started,
            h.finished,
            h.duration,
        )
        for index, h in hooks
    ]
    insert_rows(HookRun, (*_run_columns(kind), *_HOOK_COLUMNS), rows)


_HOOK_COLUMNS = (
    "block_index",
    "phase",
    "namespace",
    "pod",
    "container",
    "source",
    "command",
    "on_error",
    "exit_code",
    "stdout",
    "stderr",
    "error",
    "timed_out",
    "skipped_reason",
    "started",
    "finished",
    "duration",
)


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT `rows` (values ready for the database, in `columns` order) into `model`'s table."""
    if rows:
        with connection.cursor() as cursor:
            cursor.executemany(_insert_sql(connection.vendor, model._meta.db_table, columns), rows)


@functools.cache
def _insert_sql(vendor: str, table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(_quote(c) for c in columns)
    return f"INSERT INTO {_quote(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"


def update_block_runs(
    kind: RunKind, run_id: int, columns: tuple[str, ...], rows: list[tuple], unfinished=False
) -> None:
    """Set `columns` of the run's BlockRun rows; each row is the values, then the block index.
    With `unfinished`, rows already done or failed are left as they are."""
    if not rows:
        return
    tail = _FINAL if unfinished else ()
    with connection.cursor() as cursor:
        sql = _update_sql(connection.vendor, columns, unfinished)
        cursor.executemany(sql, [(*row[:-1], kind.name, run_id, row[-1], *tail) for row in rows])


@functools.cache
def _update_sql(vendor: str, columns: tuple[str, ...], unfinished: bool) -> str:
    """Built once per shape: quoting through the connection proxy costs more than the update."""
    assignments = ", ".join(f"{_quote(c)} = %s" for c in columns)
    sql = (
        f"UPDATE {_quote(BlockRun._meta.db_table)} SET {assignments} "
        f"WHERE {_quote('run_kind')} = %s AND {_quote('run_id')} = %s AND {_quote('index')} = %s"
    )
    if unfinished:
        sql += f" AND {_quote('state')} NOT IN ({', '.join(['%s'] * len(_FINAL))})"
    return sql


def finish_batch(batch_id: int, worker: str) -> bool:
    """Mark a running batch done, unless another worker took it over meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(
            _finish_sql(connection.vendor),
            (BlockBatch.State.DONE, batch_id, BlockBatch.State.RUNNING, worker),
        )
        return cursor.rowcount == 1


@functools.cache
def _finish_sql(vendor: str) -> str:
    q = _quote
    return (
        f"UPDATE {q(BlockBatch._meta.db_table)} SET {q('state')} = %s, {q('lease_until')} = NULL "
        f"WHERE {q('id')} = %s AND {q('state')} = %s AND {q('worker')} = %s"
    )


def add_to_run(kind: RunKind, run_id: int, **counts: int) -> None:
    """Add to the run's counters in one statement (concurrent batches add, never overwrite)."""
    columns = tuple(sorted(counts))
    with connection.cursor() as cursor:
        cursor.execute(
            _add_sql(connection.vendor, kind.table, columns), [counts[c] for c in columns] + [run_id]
        )


@functools.cache
def _add_sql(vendor: str, table: str, columns: tuple[str, ...]) -> str:
    additions = ", ".join(f"{_quote(c)} = {_quote(c)} + %s" for c in columns)
    return f"UPDATE {_quote(table)} SET {additions} WHERE {_quote('id')} = %s"


def claim_pending_batch(
    kind: RunKind, run_id: int, worker: str, job_id: str, lease_until: datetime
) -> BlockBatch | None:
    """Take the first pending batch of a run in progress for `worker`, or None when none is
    left. Lanes race for the same rows: a lost race looks again, and every lost race means
    another lane took a batch, so the loop ends. The row read to choose the batch is returned as
    the update left it, so the lane needs no second read."""
    lease = connection.ops.adapt_datetimefield_value(lease_until)
    select_sql, claim_sql = _claim_sql(connection.vendor, kind.table)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                select_sql, (kind.name, run_id, BlockBatch.State.PENDING, run_id, kind.in_progress)
            )
            candidates = cursor.fetchall()
            if not candidates:
                return None
            for pk, number, first_block, block_count, item_count, attempts in candidates:
                cursor.execute(
                    claim_sql, (BlockBatch.State.RUNNING, lease, worker, job_id, pk, BlockBatch.State.PENDING)
                )
                if cursor.rowcount == 1:
                    return BlockBatch(
                        pk=pk,
                        run_kind=kind.name,
                        run_id=run_id,
                        **({f"{kind.row_fk}_id": run_id} if kind.row_fk else {}),
                        number=number,
                        first_block=first_block,
                        block_count=block_count,
                        item_count=item_count,
                        attempts=attempts + 1,
                        state=BlockBatch.State.RUNNING,
                        lease_until=lease_until,
                        worker=worker,
                        job_id=job_id,
                    )


@functools.cache
def _claim_sql(vendor: str, runs_table: str) -> tuple[str, str]:
    table, q = _quote(BlockBatch._meta.db_table), _quote
    select = (
        f"SELECT {q('id')}, {q('number')}, {q('first_block')}, {q('block_count')}, {q('item_count')}, "
        f"{q('attempts')} FROM {table} WHERE {q('run_kind')} = %s AND {q('run_id')} = %s "
        f"AND {q('state')} = %s "
        f"AND EXISTS (SELECT 1 FROM {q(runs_table)} WHERE {q('id')} = %s AND {q('phase')} = %s) "
        f"ORDER BY {q('number')} LIMIT 8"
    )
    claim = (
        f"UPDATE {table} SET {q('state')} = %s, {q('attempts')} = {q('attempts')} + 1, "
        f"{q('lease_until')} = %s, {q('worker')} = %s, {q('job_id')} = %s "
        f"WHERE {q('id')} = %s AND {q('state')} = %s"
    )
    return select, claim


def db_time(timestamp: float):
    """A time.time() value as the database backend stores a DateTimeField."""
    return connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(timestamp, tz=UTC))


class LiveSteps:
    """The step each running block is at (pre-hooks, items, snapshots, post-hooks), with the
    hook running now during hooks (`detail`), written by one thread per process so a lane never
    waits for it: the steps noted meanwhile go in one statement, a newer step of a block replaces
    an older one, and a block's final state, which its batch's commit writes, is never
    overwritten. A step not written before the process ends is lost, and only the dashboard
    misses it."""

    def __init__(self):
        self._pid: int | None = None
        self._changed = threading.Condition()
        self._steps: dict[tuple[RunKind, int, int], tuple[str, dict | None]] = {}

    def note(self, kind: RunKind, run_id: int, index: int, step: str, detail: dict | None = None) -> None:
        with self._changed:
            if self._pid != os.getpid():  # first use, or a forked child: its own writer
                self._pid, self._steps = os.getpid(), {}
                threading.Thread(target=self._run, name="block-steps", daemon=True).start()
            self._steps[(kind, run_id, index)] = (step, detail)
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._steps:
                    self._changed.wait()
                steps, self._steps = self._steps, {}
            by_run: dict[tuple[RunKind, int], list[tuple]] = {}
            detail_field = BlockRun._meta.get_field("step_detail")
            for (kind, run_id, index), (step, detail) in steps.items():
                value = detail_field.get_db_prep_save(detail, connection)
                by_run.setdefault((kind, run_id), []).append((step, value, index))
            for (kind, run_id), rows in by_run.items():
                try:
                    with write_turn:
                        update_block_runs(kind, run_id, ("state", "step_detail"), rows, unfinished=True)
                except Exception:  # noqa: BLE001 - the dashboard shows the block's outcome anyway
                    logger.warning("steps of %s %s not recorded", kind.name, run_id, exc_info=True)
                    connection.close()
                    continue
                progress.blocks_changed(run_id, [row[-1] for row in rows], kind=kind.name)


live_steps = LiveSteps()
