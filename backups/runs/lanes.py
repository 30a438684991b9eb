"""Running batches in a job: lanes (threads) that each run batch after batch of one backup,
sharing one cluster client; a block's hooks, items and snapshots run in the engine."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import connection

from backups.engine.durations import parse_duration
from backups.engine.log import BackupLog
from backups.engine.planning.resource_policies import ResourcePolicies
from backups.engine.planning.spool import SpoolReader
from backups.engine.running.blocks import run_block
from backups.engine.running.csi_snapshots import snapshot_claim
from backups.engine.running.hook_runner import pods_at_once
from backups.engine.running.hook_spec import parse_resource_hooks
from backups.engine.source import SourceError
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
)
from backups.models import Backup, BlockBatch
from backups.runs import batches, cancel, leases, liveness, owed_hooks, planning, steps
from backups.runs.batch_sql import (
    live_steps,
)
from backups.runs.kinds import BACKUP
from backups.runs.staging import Staging

Phase = Backup.Phase
logger = logging.getLogger(__name__)


class BatchSession:
    """What every batch of one backup needs, set up once per job: a job runs batch after batch."""

    def __init__(self, backup: Backup, staging: Staging):
        self.source = backup.cluster.connect()
        self.table = staging.read_table()
        self.hooks = parse_resource_hooks((backup.hooks or {}).get("resources"), self.table)
        policies = planning.policies_of(backup)
        snapshots = planning.takes_snapshots(backup, policies)
        self.snapshot = _snapshotter(backup, self.source, self.table, policies) if snapshots else None
        self.job_id = ""

    def close(self) -> None:
        self.source.close()


def run_job(backup_id: int, number: int, lanes: int, job_id: str) -> None:
    """Back up batch `number` of the backup, then go on with its next pending batches in the same
    job (each claimed in the transaction that records the one before), so a backup of many small
    batches costs a few jobs, not one fork, database connection and cluster client per batch.

    `lanes` is how many batches the job runs at once, on as many threads sharing one cluster
    client: a backup's workers are lanes spread over the RQ worker processes there are, so 16
    workers run 16 blocks at a time on a 2-process machine, and a thread waiting for a hook costs
    no fork and no memory of its own.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    liveness.beat(job_id)  # before the claim: a batch of this job is never seen without it
    if not batches.claim(backup_id, number, worker, job_id):
        return  # a stale duplicate: the batch is done, or running elsewhere
    names = [worker] + [f"{worker}/{i}" for i in range(1, max(1, lanes))]
    heartbeat = leases.LeaseHeartbeat(backup_id, names, job_id)
    try:
        _run_lanes(backup_id, number, names, job_id)
    finally:
        heartbeat.stop()


def _run_lanes(backup_id: int, number: int, names: list[str], job_id: str) -> None:
    """Run the job's lanes: the first on this thread from batch `number`, the others on threads
    of their own from the next pending batches, each going on until none is left."""
    first = BlockBatch.objects.select_related("backup__cluster").get(
        run_kind=BACKUP.name, run_id=backup_id, number=number
    )
    staging = Staging.of(first.backup)
    try:
        session = BatchSession(first.backup, staging)
    except (SourceError, ValueError, OSError, *steps.TRANSIENT) as error:
        if first.attempts < batches.MAX_BATCH_ATTEMPTS:
            batches.release(first, names[0])
            raise  # the watchdog hands the batch out again
        return batches.give_up(first, f"{error}", staging)
    except Exception as error:
        batches.release(first, names[0])
        return steps.fail_unexpected(backup_id, error, f"batch {number}")
    backup = first.backup
    session.job_id = job_id
    deadline = time.monotonic() + settings.VELOWEB_BATCH_JOB_SECONDS
    handed_over: list[str] = []  # lanes that stopped at the deadline with batches left

    def lane(batch: BlockBatch | None, name: str) -> None:
        batch = batch or batches.claim_next(backup_id, name, session.job_id)
        while batch is not None:
            batch.backup = backup  # one read of the backup serves every batch of the job
            try:
                batch = _run_claimed(batch, name, staging, session, time.monotonic() < deadline)
            except Exception:
                batches.release(batch, name)  # the heartbeat would otherwise renew it while the job lasts
                raise
        if time.monotonic() >= deadline:
            handed_over.append(name)

    def extra_lane(name: str) -> None:
        try:
            lane(None, name)
        except Exception:  # noqa: BLE001 - its batch was released for the watchdog to hand out again
            logger.exception("lane %s of backup %s stopped", name, backup_id)
        finally:
            connection.close()  # each thread has its own database connection

    threads = [
        threading.Thread(target=extra_lane, args=(name,), name=f"lane-{name}", daemon=True)
        for name in names[1:]
    ]
    try:
        for thread in threads:
            thread.start()
        lane(first, names[0])
    finally:
        for thread in threads:
            thread.join()
        session.close()
    if handed_over:  # a fresh job takes over the places, with as many lanes
        batches.enqueue_next_batches(backup_id, [len(handed_over)])


def _run_claimed(batch: BlockBatch, worker: str, staging: Staging, session: BatchSession, go_on: bool):
    """Run one claimed batch; the next batch this lane claimed, or None."""
    backup = batch.backup
    backup_id, number = backup.pk, batch.number
    source = session.source
    if batch.attempts > 1:  # a redo: thaw first what the attempt that died left frozen
        owed_hooks.rescue_batch(backup_id, number, by=f"worker {worker}")
    log = BackupLog()
    outcomes = []
    first_block, blocks = 0, []
    try:
        first_block, blocks = staging.read_batch(number)
        snapshot = session.snapshot
        # one archive member per batch: a retried batch replaces it whole, and files stay few
        with SpoolReader(staging.spool) as spool, BlockArchiveWriter(staging.member(number)) as writer:
            for offset, items in enumerate(blocks):
                index = first_block + offset
                locations = {item.key: (item.offset, item.length) for item in items}

                def read(key, info, locations=locations):
                    where = locations.get(key)
                    if where and where[0] >= 0:
                        return spool.get_raw(*where)
                    return source.get(info, key.namespace or None, key.name)

                block_log = BackupLog()
                live = any(i.key.is_pod or i.key.is_claim for i in items)
                shown = LiveBlock(backup_id, index, source.exec)
                result = run_block(
                    [item.key for item in items],
                    source=source,
                    table=session.table,
                    spec_hooks=session.hooks,
                    executor=shown.executor,
                    writer=writer,
                    log=block_log,
                    read=read,
                    snapshot=snapshot and (lambda pvc, log=block_log: snapshot(pvc, log)),
                    on_phase=shown.phase if live else None,
                    backup_name=backup.name,
                    cancelled=lambda: cancel.cancelled(backup_id),
                    owe_post_hooks=lambda pods, index=index: owed_hooks.owe(
                        backup_id, index, number, session.job_id, worker, pods
                    ),
                    post_hooks_ran=lambda index=index: owed_hooks.settle(backup_id, index, session.job_id),
                    hooks_concurrency=pods_at_once(backup.hooks_concurrency),
                )
                outcomes.append((index, result, block_log))
                log.entries.extend(block_log.entries)
    except (SourceError, ValueError, OSError, *steps.TRANSIENT) as error:
        if batch.attempts < batches.MAX_BATCH_ATTEMPTS:
            raise  # released by the lane: the watchdog hands the batch out again
        batches.give_up(batch, f"{error}", staging)
        return None
    except Exception as error:  # a bug or an object nobody anticipated: retrying would meet it again
        batches.release(batch, worker)
        where = f"block {first_block + len(outcomes)}" if blocks else f"batch {number}"
        steps.fail_unexpected(backup_id, error, where)
        return None
    return batches.complete(batch, worker, outcomes, log, staging, go_on=go_on, job_id=session.job_id)


class LiveBlock:
    """A block with hooks or claims shows each step live (plain blocks only their outcome), and
    during its hooks the hooks running now (a block's pods run theirs at the same time): which
    pod and container, the command, since when and its timeout, noted as each exec starts and
    ends (the backup page counts the seconds)."""

    def __init__(self, backup_id: int, index: int, executor):
        self.backup_id, self.index, self._executor = backup_id, index, executor
        self.step = ""
        self._lock = threading.Lock()
        self._running: dict[int, dict] = {}
        self._started = 0

    def phase(self, state: str) -> None:
        self.step = state
        live_steps.note(BACKUP, self.backup_id, self.index, state)

    def _note(self) -> None:
        running = list(self._running.values()) or None
        live_steps.note(BACKUP, self.backup_id, self.index, self.step, running)

    def executor(self, namespace: str, pod: str, container: str | None, command: list[str], timeout: float):
        if self.step not in ("pre-hooks", "post-hooks"):
            return self._executor(namespace, pod, container, command, timeout)
        hook = {
            "pod": f"{namespace}/{pod}",
            "container": container or "",
            "command": list(command),
            "since": time.time(),
            "timeout": timeout,
        }
        with self._lock:
            self._started += 1
            key = self._started
            self._running[key] = hook
            self._note()
        try:
            return self._executor(namespace, pod, container, command, timeout)
        finally:
            with self._lock:
                self._running.pop(key, None)
                self._note()


def _snapshotter(backup: Backup, source, table, policies: ResourcePolicies | None):
    """CSI snapshots for the batch's claims, as the volume policies and snapshotVolumes decide;
    the snapshot classes are listed once per batch."""
    timeout = parse_duration(backup.csi_snapshot_timeout)
    classes: list = []

    def take(pvc: dict, log: BackupLog):
        if not classes:
            info = table.by_group_resource("volumesnapshotclasses.snapshot.storage.k8s.io")
            classes.append(list(source.list(info)) if info else [])
        return snapshot_claim(
            pvc,
            source=source,
            table=table,
            backup_name=backup.name,
            log=log,
            timeout=timeout,
            snapshot_classes=classes[0],
            policies=policies,
            snapshot_volumes=backup.snapshot_volumes is not False,
        )

    return take
