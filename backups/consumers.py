"""The backup page's WebSocket: joins the backup's group, sends the current state on connect,
then coalesced updates (dirty block rows and the summary, at most every FLUSH_INTERVAL)."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from backups.permissions import can_view
from backups.progress import group_name

FLUSH_INTERVAL = 0.2


def _render(*args, **kwargs):
    from backups.views.live import live_fragments

    return live_fragments(*args, **kwargs)


class BackupProgressConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.backup_id = int(self.scope["url_route"]["kwargs"]["backup_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            self.page = 1
        self.group = group_name(self.backup_id)
        self.dirty: set[int] = set()
        self.details_dirty = False
        self.pending = False
        self.last_flush = 0.0
        self.flusher: asyncio.Task | None = None
        if self.user is None or not await database_sync_to_async(can_view)(self.user):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(_render)(self.backup_id, self.user, self.page)
        if snapshot is None:
            await self.close(code=4404)
            return
        for message in snapshot:
            await self.send(text_data=message)
        self.has_rows = len(snapshot) > 1
        self.last_flush = time.monotonic()

    async def disconnect(self, code):
        if self.flusher:
            self.flusher.cancel()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The page sends nothing we act on (htmx's ws-send is not used)."""

    async def blocks_changed(self, event):
        self.dirty.update(event.get("indexes", ()))
        self._schedule()

    async def backup_changed(self, event):
        self.details_dirty = True
        self._schedule()

    def _schedule(self):
        self.pending = True
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self):
        while self.pending:
            await asyncio.sleep(max(0.0, self.last_flush + FLUSH_INTERVAL - time.monotonic()))
            indexes, self.dirty = self.dirty, set()
            details, self.details_dirty, self.pending = self.details_dirty, False, False
            messages = await database_sync_to_async(_render)(
                self.backup_id,
                self.user,
                self.page,
                indexes=indexes if self.has_rows else None,  # no rows yet: the plan may have appeared
                details=details,
            )
            if messages and len(messages) > 1:
                self.has_rows = True
            self.last_flush = time.monotonic()
            if messages is None:
                await self.close(code=4404)
                return
            for message in messages:
                await self.send(text_data=message)
