"""The history page's WebSocket: the page's table body on connect, then, coalesced, only the rows
of the backups that changed (phase, progress), or the whole body when a backup came or went; the
same access checks as a backup's page."""

import asyncio

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.contrib.auth.models import AnonymousUser

from backups.live import progress
from backups.live.consumer import HistoryConsumer
from backups.models import Backup
from tests.web.test_live import IN_MEMORY, WebsocketCommunicator, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def communicator(session, query="sort=name"):
    return WebsocketCommunicator(HistoryConsumer.as_asgi(), f"/ws/history/?{query}", session, {})


def changed(*backups, **fields):
    for backup in backups:
        Backup.objects.filter(pk=backup.pk).update(**fields)
        progress.backup_changed(backup.pk)
    progress.flush()


async def quiet(comm, seconds=1.5) -> list[str]:
    """What the socket sent within `seconds` (a receive that times out would cancel the consumer)."""
    await asyncio.sleep(seconds)
    sent = []
    while not comm.output_queue.empty():
        sent.append(comm.output_queue.get_nowait()["text"])
    return sent


def test_rows_that_change_are_sent_alone_and_coalesced(make_backup, make_user):
    a = make_backup("a-run", phase=Backup.Phase.IN_PROGRESS, total_items=10)
    b = make_backup("b-run", phase=Backup.Phase.QUEUED)
    viewer = signed_in(make_user("viewer"))

    async def scenario():
        comm = communicator(viewer)
        assert (await comm.connect())[0]
        snapshot = await comm.receive_from()
        await sync_to_async(changed)(a, items_backed_up=5)
        row = await comm.receive_from()
        for done in range(6, 10):  # quick changes: one flush a second at most
            await sync_to_async(changed)(a, items_backed_up=done)
        later = await quiet(comm)
        await sync_to_async(changed)(a, b, phase=Backup.Phase.COMPLETED, items_backed_up=10)
        both = [await comm.receive_from(), await comm.receive_from()]
        await comm.disconnect()
        return snapshot, row, later, both

    snapshot, row, later, both = async_to_sync(scenario)()
    assert snapshot.startswith('<tbody id="history-body" hx-swap-oob="true">')
    assert snapshot.index("a-run") < snapshot.index("b-run")  # the page's sort
    assert row.startswith(f'<tr id="backup-{a.pk}" hx-swap-oob="true">') and "5/10" in row and "50%" in row
    assert "b-run" not in row
    assert 1 <= len(later) <= 2 and "9/10" in later[-1]
    assert {m.split('"')[1] for m in both} == {f"backup-{a.pk}", f"backup-{b.pk}"}
    assert all("Completed" in m for m in both)


def test_a_new_or_deleted_backup_resends_the_body_and_others_pages_stay_quiet(make_backup, make_user):
    for i in range(30):
        make_backup(f"old-{i:02d}", phase=Backup.Phase.COMPLETED)
    viewer = signed_in(make_user("operator"))

    async def scenario():
        comm = communicator(viewer, "sort=name&page=1")
        assert (await comm.connect())[0]
        await comm.receive_from()
        off_page = await sync_to_async(Backup.objects.get)(name="old-29")
        await sync_to_async(changed)(off_page, errors=3)  # on page 2: not this page's concern
        silent = await quiet(comm)
        new = await sync_to_async(Backup.objects.create)(name="aaa-new", phase=Backup.Phase.QUEUED)
        await sync_to_async(changed)(new)
        body = await comm.receive_from()
        await comm.disconnect()
        return silent, body

    silent, body = async_to_sync(scenario)()
    assert silent == []
    assert body.startswith('<tbody id="history-body"') and body.index("aaa-new") < body.index("old-00")
    assert 'name="ids"' in body  # an operator's rows keep their checkboxes


def test_the_filters_of_the_page_apply(make_backup, make_user):
    shop = make_backup("shop-1", phase=Backup.Phase.IN_PROGRESS, included_namespaces=["shop*"])
    pay = make_backup("pay-1", phase=Backup.Phase.IN_PROGRESS, included_namespaces=["payments"])
    viewer = signed_in(make_user("viewer"))

    async def scenario():
        comm = communicator(viewer, "namespace=shop-eu")
        assert (await comm.connect())[0]
        snapshot = await comm.receive_from()
        await sync_to_async(changed)(pay, items_backed_up=1)
        silent = await quiet(comm)
        await sync_to_async(changed)(shop, items_backed_up=1)
        row = await comm.receive_from()
        await comm.disconnect()
        return snapshot, silent, row

    snapshot, silent, row = async_to_sync(scenario)()
    assert "shop-1" in snapshot and "pay-1" not in snapshot
    assert silent == [] and f'id="backup-{shop.pk}"' in row


def test_anonymous_and_roleless_users_are_refused(make_user):
    async def scenario(session):
        comm = communicator(session)
        assert await comm.connect() == (True, None)
        closed = await comm.receive_output(5)
        await comm.disconnect()
        return closed

    assert async_to_sync(scenario)(signed_in(AnonymousUser()))["code"] == 4401
    assert async_to_sync(scenario)(signed_in(make_user(None)))["code"] == 4403
