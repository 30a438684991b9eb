"""The backup page's WebSocket: authenticated, a snapshot on connect, coalesced updates after
`progress.blocks_changed` / `backup_changed`, rendered from the page's own partials.
(tests/web/test_live_access.py: closed over real uvicorn once the session or the role is gone.)"""

import asyncio
import contextlib

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore

from backups.live import progress
from backups.live.consumer import RunProgressConsumer
from backups.models import Backup, BlockRun

pytestmark = pytest.mark.django_db(transaction=True)

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def running(make_backup):
    backup = make_backup("live-1", phase=Backup.Phase.IN_PROGRESS, total_blocks=250, total_items=500)
    BlockRun.objects.bulk_create(
        BlockRun(backup=backup, index=i, batch=i // 10, item_count=2, first_item=f"pods ns/p{i}")
        for i in range(250)
    )
    return backup


class WebsocketCommunicator(ApplicationCommunicator):
    """channels.testing.WebsocketCommunicator's protocol; that module imports daphne, which
    Veloweb does not install (it serves with uvicorn)."""

    def __init__(self, app, path, session, kwargs):
        path, _, query = path.partition("?")
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": query.encode(),
            "headers": [],
            "subprotocols": [],
            "session": session,
            "url_route": {"args": (), "kwargs": kwargs},
        }
        super().__init__(app, scope)

    async def connect(self, timeout=5):
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        return True, None

    async def receive_from(self, timeout=5):
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"]

    async def disconnect(self, code=1000, timeout=5):
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def signed_in(user) -> SessionStore:
    """The session `login()` leaves for `user`, saved in the session store (empty when anonymous):
    the consumer reads its user from there, as under AuthMiddlewareStack."""
    session = SessionStore()
    if user.is_authenticated:
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session


def communicator(backup, session, page=1):
    app = RunProgressConsumer.as_asgi(run_kind="backup")
    path = f"/ws/backups/{backup.pk}/?page={page}"
    return WebsocketCommunicator(app, path, session, {"run_id": backup.pk})


def test_anonymous_and_roleless_users_are_refused(running, make_user):
    """Accepted, then closed with the reason: the page sees the code (a refused handshake is 1006,
    on which htmx would reconnect forever)."""

    async def scenario(session):
        comm = communicator(running, session)
        assert await comm.connect() == (True, None)
        closed = await comm.receive_output(5)
        await comm.disconnect()
        return closed

    assert async_to_sync(scenario)(signed_in(AnonymousUser())) == {"type": "websocket.close", "code": 4401}
    assert async_to_sync(scenario)(signed_in(make_user(None))) == {"type": "websocket.close", "code": 4403}


def test_snapshot_on_connect_then_coalesced_updates(running, make_user):
    viewer = signed_in(make_user("viewer"))

    def finish(indexes):
        BlockRun.objects.filter(backup=running, index__in=indexes).update(
            state=BlockRun.State.DONE, items_written=2
        )
        Backup.objects.filter(pk=running.pk).update(
            blocks_done=len(indexes), items_backed_up=2 * len(indexes)
        )
        progress.blocks_changed(running.pk, indexes)
        progress.backup_changed(running.pk)
        progress.flush()  # as a job does before it ends; the send runs on progress' own loop

    async def scenario():
        comm = communicator(running, viewer, page=2)
        connected, _ = await comm.connect()
        assert connected
        snapshot = await comm.receive_from() + await comm.receive_from()
        await sync_to_async(finish)([100, 101, 5])
        summary, rows = await comm.receive_from(), await comm.receive_from()
        await sync_to_async(finish)([102])
        await sync_to_async(finish)([103])
        later = await comm.receive_from() + await comm.receive_from()
        await comm.disconnect()
        return snapshot, summary, rows, later

    snapshot, summary, rows, later = async_to_sync(scenario)()
    assert 'id="progress" class="panel progress" hx-swap-oob="true"' in snapshot
    assert snapshot.count('<tr id="block-') == 100  # blocks page 2: 100..199, as one tbody
    assert 'id="block-100"' in snapshot and 'id="block-99"' not in snapshot
    # only the changed rows of the visible page, with the counters and the new log/hooks
    assert "3 / 250" in summary and 'id="hooks"' in summary and "<tr id" not in summary
    # the visible page's rows, alone in one message as a tbody swap (see live_fragments)
    assert (
        rows.startswith('<tbody id="blocks-body" hx-swap-oob="true">') and rows.count('<tr id="block-') == 100
    )
    assert 'id="block-100" class="state-done"' in rows and 'id="block-5"' not in rows
    # two quick changes are sent together
    assert 'id="block-102"' in later and 'id="block-103"' in later


def test_progress_never_raises_when_the_layer_is_broken(settings, running):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "no.such.Layer"}}
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    progress.blocks_changed(running.pk, [1])
    progress.backup_changed(running.pk)


def test_changes_noted_in_quick_succession_go_out_together(running):
    """A batch job's lanes note several changes per block: the first goes out at once, the ones
    noted meanwhile as one blocks.changed (the union of their indexes) and one run.changed."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(progress.group_name(running.pk), channel)
    for index in range(100):
        progress.blocks_changed(running.pk, [index, 199 - index])
        progress.backup_changed(running.pk)
    progress.flush()

    async def received():
        messages = []
        with contextlib.suppress(TimeoutError):
            while True:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.3))
        return messages

    messages = async_to_sync(received)()
    blocks = [m for m in messages if m["type"] == "blocks.changed"]
    assert 1 <= len(blocks) <= 2 and 1 <= len(messages) - len(blocks) <= 2
    assert sorted(i for m in blocks for i in m["indexes"]) == list(range(200))
    assert messages[-1] == {"type": "run.changed"}


@pytest.mark.parametrize("trigger", ["progress", "client message"])
def test_access_is_checked_again_on_every_message(running, make_user, settings, trigger):
    """With the periodic re-check an hour away, the next progress message (or anything the client
    sends) after the role is removed closes the socket instead of sending."""
    settings.VELOWEB_WS_RECHECK_SECONDS = 3600
    user = make_user("viewer")
    session = signed_in(user)

    def demote_then_notify():
        user.groups.clear()
        if trigger == "progress":
            progress.backup_changed(running.pk)
            progress.flush()

    async def scenario():
        comm = communicator(running, session)
        assert (await comm.connect())[0]
        await comm.receive_from()
        await comm.receive_from()
        await sync_to_async(demote_then_notify)()
        if trigger == "client message":
            await comm.send_input({"type": "websocket.receive", "text": "{}"})
        closed = await comm.receive_output(5)
        await comm.disconnect()
        return closed

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": 4403}


def test_a_session_flushed_elsewhere_closes_the_socket_on_the_next_message(running, make_user, settings):
    settings.VELOWEB_WS_RECHECK_SECONDS = 3600
    session = signed_in(make_user("viewer"))

    def log_out_elsewhere():
        SessionStore(session.session_key).delete()
        progress.backup_changed(running.pk)
        progress.flush()

    async def scenario():
        comm = communicator(running, session)
        assert (await comm.connect())[0]
        await comm.receive_from()
        await comm.receive_from()
        await sync_to_async(log_out_elsewhere)()
        closed = await comm.receive_output(5)
        await comm.disconnect()
        return closed

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": 4401}
