"""Progress notifications from the jobs to the dashboard's WebSocket consumers, keyed by run
(kind, id): a backup is the run ("backup", its id), and a restore will be another kind.

A backup's row changing (phase, counters) also goes to the history pages' group, gathered: one
`history.changed` with the ids. Messages only say *what* changed; the consumer reads the current
state from the database and renders it, so a lost message (the channel layer is lossy) is
repaired by the next one, and nothing here can fail a run.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)
BACKUP = "backup"  # the run kind of backups
RESTORE = "restore"  # the run kind of restores
HISTORY_GROUP = "history"  # every open history page: a backup's row changed (`history.changed`)
SEND_TIMEOUT = 5.0  # seconds; a Redis that does not answer costs a job no more than this per message
GATHER_SECONDS = 0.05  # after a send, changes noted within this long go out together


class _Sender:
    """Sends the changes a process notes, gathered, from one event loop on a daemon thread.

    A batch job's lanes note several changes per block; they do not wait for Redis. A change
    noted while nothing is going out is sent at once; what is noted while it goes, and for
    GATHER_SECONDS after, goes out next as one `blocks.changed` (the union of the indexes) and one
    `run.changed` per run, which the consumer reads the same. The kept loop also spares
    `async_to_sync`'s new loop and Redis connection per message (2.5 ms of CPU against 0.14 ms).
    A forked child (RQ's work horse) starts its own loop on first use, never touching its
    parent's; a job flushes before its work horse exits (`os._exit` skips atexit), any other
    process at exit.
    """

    def __init__(self):
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._changes: dict[tuple[str, int], dict] = {}  # (kind, id) -> {"indexes": set, "run": bool}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle = threading.Event()

    def note(self, run: tuple[str, int], indexes=(), changed: bool = False) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            change = self._changes.setdefault(run, {"indexes": set(), "run": False})
            change["indexes"].update(indexes)
            change["run"] = change["run"] or changed
            first = self._idle.is_set()
            self._idle.clear()
        if first:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _start(self) -> None:
        self._pid, self._changes = os.getpid(), {}
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._idle = threading.Event()
        self._idle.set()
        threading.Thread(target=self._loop.run_forever, name="progress-sender", daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._pump(), self._loop)
        atexit.register(self.flush, SEND_TIMEOUT + GATHER_SECONDS)  # a command ending right after

    async def _pump(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while True:  # the first change goes at once; those noted meanwhile wait GATHER_SECONDS
                with self._lock:
                    changes, self._changes = self._changes, {}
                    if not changes:
                        self._idle.set()
                        break
                for run, change in changes.items():
                    await self._send(run, change)
                changed = sorted(i for (kind, i), c in changes.items() if kind == BACKUP and c["run"])
                if changed:
                    await self._send_to(HISTORY_GROUP, {"type": "history.changed", "ids": changed})
                await asyncio.sleep(GATHER_SECONDS)

    async def _send(self, run: tuple[str, int], change: dict) -> None:
        kind, run_id = run
        messages = []
        if change["indexes"]:
            messages.append({"type": "blocks.changed", "indexes": sorted(int(i) for i in change["indexes"])})
        if change["run"]:
            messages.append({"type": "run.changed"})
        for message in messages:
            if not await self._send_to(group_name(run_id, kind), message):
                return  # the channel layer is down: the next change tries again

    async def _send_to(self, group: str, message: dict) -> bool:
        try:
            layer = get_channel_layer()
            if layer is not None:
                await asyncio.wait_for(layer.group_send(group, message), SEND_TIMEOUT)
        except Exception:
            logger.warning("live update to %s not sent", group, exc_info=True)
            return False
        return True

    def flush(self, timeout: float) -> None:
        if self._pid == os.getpid():
            self._idle.wait(timeout)


_sender = _Sender()


def group_name(run_id: int, kind: str = BACKUP) -> str:
    """The channel group of a run's page: `backup_12`."""
    return f"{kind}_{int(run_id)}"


def flush() -> None:
    """Wait (a bounded time) for this process's messages to be sent: an RQ work horse ends with
    `os._exit`, which would drop them."""
    _sender.flush(SEND_TIMEOUT + GATHER_SECONDS)


def blocks_changed(run_id: int, indexes: list[int], kind: str = BACKUP) -> None:
    """BlockRun rows `indexes` of the run changed in the database."""
    _sender.note((kind, run_id), indexes=indexes)


def run_changed(run_id: int, kind: str = BACKUP) -> None:
    """The run's row (phase, counters) changed; new hook runs or log entries may exist."""
    _sender.note((kind, run_id), changed=True)


def backup_changed(backup_id: int) -> None:
    """The Backup row changed (`run_changed` of a backup)."""
    run_changed(backup_id, BACKUP)
