"""Everything restoring an item needs besides the item: one `RestoreContext` per restore per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from backups.engine.log import BackupLog
from backups.engine.planning.resources import ResourceTable

from .contents import BackupContents
from .results import RestoreResults
from .spec import RestoreSpec
from .target import RestoreTarget


@dataclass
class RestoreContext:
    """A restore's shared state. Thread-safe for `restore_item` from several lanes.

    `restore_name` labels what is created (`velero.io/restore-name`); `contents` the indexed
    backup; `target` the cluster; `results`/`log` collect what happened; `clock` is injectable.
    Built once per process (a worker builds its own from `BackupContents.load`).
    """

    restore_name: str
    spec: RestoreSpec
    contents: BackupContents
    target: RestoreTarget
    results: RestoreResults = field(default_factory=RestoreResults)
    log: BackupLog = field(default_factory=BackupLog)
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _namespaces_ready: set[str] = field(default_factory=set, repr=False)
    _table: ResourceTable | None = field(default=None, repr=False)

    def table(self) -> ResourceTable:
        """The target's discovery (refreshed by `refresh_table` after CRDs are established)."""
        with self._lock:
            if self._table is None:
                self._table = self.target.resources()
            return self._table

    def refresh_table(self) -> ResourceTable:
        table = self.target.refresh()
        with self._lock:
            self._table = table
        return table
