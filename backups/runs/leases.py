"""Leases of running batches: a batch belongs to the worker that claimed it while its lease is
renewed; a lapsed lease means the worker died and the watchdog hands the batch out again."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from backups.models import Backup, BlockBatch
from backups.runs import liveness
from backups.runs.batch_sql import (
    write_turn,
)
from backups.runs.kinds import BACKUP, RunKind

Phase = Backup.Phase
logger = logging.getLogger(__name__)


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.VELOWEB_BATCH_LEASE_SECONDS)


class LeaseHeartbeat:
    """Renews the leases of the batches a job's lanes are running, from one thread, so a long
    hook or snapshot wait is not taken for a dead worker; a killed worker stops renewing and its
    batches are handed out again. A second thread tells Redis every second that the job lives
    (`backups.runs.liveness`), so a dead job's owed post-hooks run within seconds, not after a lease."""

    def __init__(self, run_id: int, workers: list[str], job_id: str = "", kind: RunKind = BACKUP):
        self.kind, self.run_id, self.workers, self.job_id = kind, run_id, workers, job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{run_id}", daemon=True)
        self._thread.start()
        self._beats = threading.Thread(target=self._beat, name=f"alive-{run_id}", daemon=True)
        self._beats.start()

    def _beat(self) -> None:
        """Apart from the lease renewal, which may wait for the database."""
        while not self._stop.wait(liveness.ALIVE_EVERY):
            try:
                liveness.beat(self.job_id)
            except Exception:  # noqa: BLE001 - Redis away: the lease still says the job lives
                logger.warning("could not tell Redis job %s is alive", self.job_id, exc_info=True)

    def _run(self) -> None:
        interval = max(0.2, settings.VELOWEB_BATCH_LEASE_SECONDS / 3)
        running = BlockBatch.objects.filter(
            run_kind=self.kind.name,
            run_id=self.run_id,
            state=BlockBatch.State.RUNNING,
            worker__in=self.workers,
        )
        try:
            while not self._stop.wait(interval):
                try:
                    with write_turn:
                        running.update(lease_until=lease_until())
                except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease has slack
                    logger.warning(
                        "could not renew leases of %s %s", self.kind.name, self.run_id, exc_info=True
                    )
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._beats.join()
