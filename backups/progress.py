"""Progress notifications from the jobs to the dashboard's WebSocket consumers.

Messages only say *what* changed; the consumer reads the current state from the database and
renders it, so a lost message (the channel layer is lossy) is repaired by the next one, and
nothing here can fail a backup.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def group_name(backup_id: int) -> str:
    return f"backup_{int(backup_id)}"


def _send(backup_id: int, message: dict) -> None:
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(group_name(backup_id), message)
    except Exception:
        logger.warning("progress of backup %s not sent", backup_id, exc_info=True)


def blocks_changed(backup_id: int, indexes: list[int]) -> None:
    """BlockRun rows `indexes` of the backup changed in the database."""
    _send(backup_id, {"type": "blocks.changed", "indexes": [int(i) for i in indexes]})


def backup_changed(backup_id: int) -> None:
    """The Backup row (phase, counters) changed; new hook runs or log entries may exist."""
    _send(backup_id, {"type": "backup.changed"})
