"""A run's page WebSocket (one consumer for every kind of run, each with its renderer in
`backups.live.render.RENDERERS`): joins the run's group, sends the current state on connect, then
coalesced updates (dirty block rows and the summary, at most every FLUSH_INTERVAL).

A socket outlives the checks its page passed, so the session and the role are checked again on
every message, and every VELOWEB_WS_RECHECK_SECONDS while nothing happens: a user signed out (here
or in another tab), deactivated or no longer a viewer gets the socket closed with CLOSE_SIGNED_OUT
or CLOSE_FORBIDDEN (the page says why; htmx does not reconnect on these codes). Each render uses
the user read afresh, so a right taken away (hook output) is gone from the next message."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import QueryDict

from backups.live.progress import BACKUP, HISTORY_GROUP, group_name
from backups.permissions import can_view, session_user

FLUSH_INTERVAL = 0.2
CLOSE_SIGNED_OUT = 4401  # no session, or it ended (logged out, expired)
CLOSE_FORBIDDEN = 4403  # signed in, but no longer a viewer
CLOSE_GONE = 4404  # the backup was deleted, or the path is no socket's


def _page(query_string: bytes) -> int:
    """The blocks page asked for (`?page=`), within the pages block indexes can have; 1 for junk."""
    from backups.queries import LAST_BLOCKS_PAGE

    text = parse_qs(query_string.decode("latin-1")).get("page", ["1"])[0]
    if not text.isascii() or not text.isdigit():
        return 1
    return min(max(1, int(text)), LAST_BLOCKS_PAGE)


def _block_filter(query_string: bytes):
    """The blocks filter of the page (`?state=&q=`), checked as the page checks it."""
    from backups.queries import BlockFilter

    params = {k: v[0] for k, v in parse_qs(query_string.decode("utf-8", "replace")).items()}
    return BlockFilter.of(params)


def _access(session_key: str | None):
    """(user, None) while the session's user may watch backups, else (None, close code)."""
    user = session_user(session_key)
    if not user.is_authenticated:
        return None, CLOSE_SIGNED_OUT
    if not can_view(user):
        return None, CLOSE_FORBIDDEN
    return user, None


def _render(session_key: str | None, kind: str, run_id: int, page: int, **kwargs):
    """(close code, None) when access is gone, else (None, the messages) for the user as of now."""
    from backups.live.render import RENDERERS

    user, refused = _access(session_key)
    if refused:
        return refused, None
    messages = RENDERERS[kind](run_id, user, page, **kwargs)
    return (CLOSE_GONE, None) if messages is None else (None, messages)


class RunProgressConsumer(AsyncWebsocketConsumer):
    """Routed as `RunProgressConsumer.as_asgi(run_kind=...)` with the run's id as `run_id`."""

    run_kind = BACKUP

    def __init__(self, *args, run_kind: str | None = None, **kwargs):
        # Channels' as_asgi(**initkwargs) passes them here and sets nothing by itself
        super().__init__(*args, **kwargs)
        if run_kind is not None:
            self.run_kind = run_kind

    async def connect(self):
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        self.page = _page(self.scope.get("query_string", b""))
        self.where = _block_filter(self.scope.get("query_string", b""))
        self.group = group_name(self.run_id, self.run_kind)
        self.dirty: set[int] = set()
        self.details_dirty = False
        self.pending = False
        self.closed = False
        self.last_flush = 0.0
        self.flusher: asyncio.Task | None = None
        self.watcher: asyncio.Task | None = None
        user, refused = await database_sync_to_async(_access)(self.session_key)
        await self.accept()  # then close: the page sees the close code (a refused handshake is 1006)
        if refused:
            await self._close(refused)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        refused, snapshot = await database_sync_to_async(self.render)()
        if refused:
            await self._close(refused)
            return
        for message in snapshot:
            await self.send(text_data=message)
        self.has_rows = len(snapshot) > 1
        self.last_flush = time.monotonic()
        self.watcher = asyncio.create_task(self._watch_access())

    def render(self, **kwargs):
        """The messages for the page as of now (the snapshot without kwargs), or a close code;
        runs in a worker thread."""
        return _render(self.session_key, self.run_kind, self.run_id, self.page, where=self.where, **kwargs)

    async def disconnect(self, code):
        self.closed = True
        for task in (self.flusher, self.watcher):
            if task:
                task.cancel()
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The page sends nothing we act on (htmx's ws-send is not used); still, a message from a
        client whose access is gone closes the socket."""
        user, refused = await database_sync_to_async(_access)(self.session_key)
        if refused:
            await self._close(refused)

    async def blocks_changed(self, event):
        self.dirty.update(event.get("indexes", ()))
        self._schedule()

    async def run_changed(self, event):
        self.details_dirty = True
        self._schedule()

    async def _close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def _watch_access(self):
        while not self.closed:
            await asyncio.sleep(settings.VELOWEB_WS_RECHECK_SECONDS)
            user, refused = await database_sync_to_async(_access)(self.session_key)
            if refused:
                await self._close(refused)

    def _schedule(self):
        self.pending = True
        if not self.closed and (self.flusher is None or self.flusher.done()):
            self.flusher = asyncio.create_task(self._flush())

    async def _flush(self):
        while self.pending and not self.closed:
            await asyncio.sleep(max(0.0, self.last_flush + FLUSH_INTERVAL - time.monotonic()))
            indexes, self.dirty = self.dirty, set()
            details, self.details_dirty, self.pending = self.details_dirty, False, False
            refused, messages = await database_sync_to_async(self.render)(
                indexes=indexes if self.has_rows else None,  # no rows yet: the plan may have appeared
                details=details,
            )
            self.last_flush = time.monotonic()
            if refused:
                await self._close(refused)
                return
            if len(messages) > 1:
                self.has_rows = True
            for message in messages:
                await self.send(text_data=message)


HISTORY_FLUSH_INTERVAL = 1.0  # a history page re-reads its page of backups at most once a second


def _render_history(session_key: str | None, query: QueryDict, shown: list[int], changed: set[int]):
    """(close code, None, None) when access is gone, else (None, messages, the ids now shown)."""
    from backups.live.render import history_fragments

    user, refused = _access(session_key)
    if refused:
        return refused, None, None
    messages, ids = history_fragments(query, user, shown, changed)
    return None, messages, ids


class HistoryConsumer(AsyncWebsocketConsumer):
    """The history page's socket (`/ws/history/?<the page's filters, sort, page>`): joins the
    `history` group, and re-renders, coalesced, the rows of the backups that changed, or the whole
    table body when the page's backups are no longer the same (one came, went or moved). The
    access checks are the run pages' (`_access`, on every message and every recheck)."""

    async def connect(self):
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
        self.query = QueryDict(self.scope.get("query_string", b"").decode("latin-1"))
        self.changed: set[int] = set()
        self.shown: list[int] = []
        self.closed = False
        self.last_flush = 0.0
        self.flusher: asyncio.Task | None = None
        self.watcher: asyncio.Task | None = None
        user, refused = await database_sync_to_async(_access)(self.session_key)
        await self.accept()
        if refused:
            await self._close(refused)
            return
        await self.channel_layer.group_add(HISTORY_GROUP, self.channel_name)
        self.joined = True
        await self._flush_now(snapshot=True)
        self.watcher = asyncio.create_task(self._watch_access())

    async def disconnect(self, code):
        self.closed = True
        for task in (self.flusher, self.watcher):
            if task:
                task.cancel()
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(HISTORY_GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        user, refused = await database_sync_to_async(_access)(self.session_key)
        if refused:
            await self._close(refused)

    async def history_changed(self, event):
        self.changed.update(int(i) for i in event.get("ids", ()))
        if not self.closed and (self.flusher is None or self.flusher.done()):
            self.flusher = asyncio.create_task(self._flush())

    async def _close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            await self.close(code=code)

    async def _watch_access(self):
        while not self.closed:
            await asyncio.sleep(settings.VELOWEB_WS_RECHECK_SECONDS)
            user, refused = await database_sync_to_async(_access)(self.session_key)
            if refused:
                await self._close(refused)

    async def _flush(self):
        while self.changed and not self.closed:
            await asyncio.sleep(max(0.0, self.last_flush + HISTORY_FLUSH_INTERVAL - time.monotonic()))
            await self._flush_now()

    async def _flush_now(self, snapshot: bool = False):
        changed, self.changed = self.changed, set()
        shown = [] if snapshot else self.shown  # the first answer: the whole body, as it is now
        refused, messages, ids = await database_sync_to_async(_render_history)(
            self.session_key, self.query, shown, changed
        )
        self.last_flush = time.monotonic()
        if refused:
            await self._close(refused)
            return
        self.shown = ids
        for message in messages:
            await self.send(text_data=message)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: accepted, then closed with CLOSE_GONE (the socket's "not found"),
    so the client learns why and nothing is logged as an error."""

    async def connect(self):
        await self.accept()
        await self.close(code=CLOSE_GONE)


class LogFollowConsumer(RunProgressConsumer):
    """The full log page's socket (`?after=<id>&follow=1&level=&q=`): on the last page it appends
    the lines recorded after the last one the page has; elsewhere it says how many came since.
    A reconnect sends again from the page's `after` (the page drops the rows it already has)."""

    async def connect(self):
        from backups.queries import LogFilter

        params = parse_qs(self.scope.get("query_string", b"").decode("utf-8", "replace"))
        after = params.get("after", ["0"])[0]
        self.after = int(after) if after.isascii() and after.isdigit() and len(after) < 19 else 0
        self.follow = params.get("follow", ["1"])[0] == "1"
        self.log_where = LogFilter.of({k: v[0] for k, v in params.items()})
        await super().connect()

    def render(self, **kwargs):
        from backups.live.render import log_fragments

        user, refused = _access(self.session_key)
        if refused:
            return refused, None
        rendered = log_fragments(self.run_id, self.log_where, self.after, self.follow)
        if rendered is None:
            return CLOSE_GONE, None
        messages, self.after = rendered
        return None, messages
