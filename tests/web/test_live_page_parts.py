"""The live backup page's parts: the running hook, the ETA from the work left, the Blocks
heading and its server-side filter, the timing breakdown."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backups import queries
from backups.live.render import live_fragments
from backups.models import Backup, BlockRun, HookRun
from backups.runs import timings

STATES = ["done", "failed", "pre-hooks", "items", "queued"]


@pytest.fixture
def running(make_backup):
    backup = make_backup(
        "big-1",
        phase=Backup.Phase.IN_PROGRESS,
        started=timezone.now() - timedelta(seconds=20),
        total_blocks=1000,
        total_items=1000,
        items_backed_up=990,
        workers=4,
        timings={"planning": 5.0, "hooked_pods": 2},
    )
    rows = [
        BlockRun(
            backup=backup,
            run_id=backup.pk,
            index=i,
            batch=i,
            item_count=1,
            first_item=f"pods shop/web-{i}" if i % 10 == 0 else f"configmaps pay/cm-{i}",
            state=STATES[i % 5],
        )
        for i in range(1000)
    ]
    BlockRun.objects.bulk_create(rows)
    BlockRun.objects.filter(backup=backup, index=2).update(
        pods=1,
        step_detail={
            "pod": "shop/db-0",
            "container": "postgres",
            "command": ["/bin/sh", "-c", "fsfreeze --freeze /data"],
            "since": time.time() - 4,
            "timeout": 30.0,
        },
    )
    return backup


def test_the_running_hook_is_on_the_page_with_its_seconds(client_as, running):
    html = client_as("viewer").get(f"/backups/{running.pk}/").content.decode()
    hook = re.search(r'<li class="running-hook" id="running-2">(.*?)</li>', html, re.S).group(1)
    assert "shop/db-0" in hook and "postgres" in hook and "fsfreeze --freeze /data" in hook
    running_for = re.search(r'data-since="[\d.]+">(\d+)s</b>', hook)
    assert running_for and 4 <= int(running_for.group(1)) < 60 and "(timeout 30s)" in hook
    assert re.search(r'id="progress"[^>]* data-now="[\d.]+" data-started="[\d.]+"', html)


def test_the_eta_counts_the_hook_work_left_not_the_items_alone(running):
    progress = queries.progress_of(running)
    # items alone: 15 s for 990 items, 10 left → 0 s; hooks: one pod waiting and one running for
    # 4 s of an expected 30 s (no hook finished yet: its timeout) → well over 20 s
    assert progress.eta_seconds is not None and progress.eta_seconds >= 20
    assert progress.eta_basis == "2 hooked pods left"
    HookRun.objects.create(
        backup=running, run_id=running.pk, block_index=7, phase="pre", namespace="shop", pod="db-1",
        duration=6.0, started=1.0, finished=7.0,
    )  # fmt: skip
    observed = queries.progress_of(running)  # one pod done in 6 s: the running one has ~2 s left
    assert 1 <= observed.eta_seconds <= 4 and observed.eta_basis == "1 hooked pods left"


def test_without_hooks_the_eta_is_the_item_rate(make_backup):
    backup = make_backup(
        "plain-1", phase=Backup.Phase.IN_PROGRESS, started=timezone.now() - timedelta(seconds=30),
        total_items=300, items_backed_up=100, timings={"planning": 10.0},
    )  # fmt: skip
    progress = queries.progress_of(backup)
    assert progress.eta_seconds == 40 and progress.eta_basis == "200 items left"


def test_the_blocks_heading_counts_every_block_and_the_filter_runs_in_the_database(client_as, running):
    client = client_as("viewer")
    html = client.get(f"/backups/{running.pk}/").content.decode()
    assert re.search(r'<h2 id="blocks-heading">Blocks <small>1000</small></h2>', html)
    failed = client.get(f"/backups/{running.pk}/?state=failed").content.decode()
    rows = re.findall(r'<tr id="block-(\d+)" class="state-(\S+)"', failed)
    assert len(rows) == 100 and {s for _, s in rows} == {"failed"}
    assert "200 matching" in failed and "state=failed&amp;page=2" in failed
    assert f'ws-connect="/ws/backups/{running.pk}/?page=1&amp;state=failed"' in failed
    search = client.get(f"/backups/{running.pk}/?q=shop/web-99").content.decode()
    assert re.findall(r'<tr id="block-(\d+)"', search) == ["990"]
    running_steps = client.get(f"/backups/{running.pk}/?state=running").content.decode()
    assert {s for _, s in re.findall(r'<tr id="block-(\d+)" class="state-(\S+)"', running_steps)} == {
        "pre-hooks", "items"
    }  # fmt: skip
    assert client.get(f"/backups/{running.pk}/?state=bogus&q=" + "x" * 999).status_code == 200


def test_the_socket_renders_the_filtered_page_again_as_states_change(running, make_user):
    user = make_user("viewer")
    where = queries.BlockFilter(state="queued")
    messages = live_fragments(running.pk, user, 1, indexes=[4], details=False, where=where)
    assert 'id="blocks-heading" hx-swap-oob="true"' in messages[0] and "200 matching" in messages[0]
    assert len(re.findall(r'class="state-queued"', messages[-1])) == 100
    BlockRun.objects.filter(backup=running, state="queued").update(state="done")
    messages = live_fragments(running.pk, user, 1, indexes=[4], details=False, where=where)
    assert "No block matches the filter." in messages[-1] and "0 matching" in messages[0]


def test_the_timing_breakdown_after_the_backup(client_as, make_backup):
    backup = make_backup("timed-1", phase=Backup.Phase.COMPLETED, timings={"planning": 1.25})
    for pod, pre, post in (("db-0", 10.0, 19.5), ("db-1", 11.0, 13.0)):
        HookRun.objects.create(backup=backup, run_id=backup.pk, block_index=1, phase="pre", namespace="shop",
                               pod=pod, started=pre, finished=pre + 1, duration=1.0)  # fmt: skip
        HookRun.objects.create(backup=backup, run_id=backup.pk, block_index=1, phase="post", namespace="shop",
                               pod=pod, started=post - 0.5, finished=post, duration=0.5)  # fmt: skip
    timings.record(
        backup.pk, blocks=20.0, snapshots=0.0, finalize=0.4, upload=0.2, **timings.hook_times(backup.pk)
    )
    backup.refresh_from_db()
    assert backup.timings["longest_freeze"] == 9.5 and backup.timings["freeze_pod"] == "shop/db-0"
    assert backup.timings["hooks"] == 3.0 and backup.timings["planning"] == 1.25
    html = client_as("viewer").get(f"/backups/{backup.pk}/").content.decode()
    section = html[html.index('id="timings"') :]
    expected = [("Planning", "1.2s"), ("Blocks", "20.0s"), ("Longest freeze", "9.5s <small>shop/db-0")]
    for label, value in [*expected, ("Upload", "0.2s")]:
        assert f"<dt>{label}</dt><dd>{value}" in section, label


def test_pods_of_blocks_past_their_pre_hooks_are_not_waiting(make_backup):
    backup = make_backup(
        "flight-1", phase=Backup.Phase.IN_PROGRESS, started=timezone.now() - timedelta(seconds=10),
        total_items=10, items_backed_up=0, workers=1, timings={"planning": 1.0, "hooked_pods": 3},
    )  # fmt: skip
    BlockRun.objects.create(
        backup=backup,
        run_id=backup.pk,
        index=0,
        batch=0,
        item_count=4,
        first_item="pods a/p",
        state="items",
        pods=2,
    )
    work = queries.hook_work_left(backup, time.time())
    assert (work.pods_left, work.seconds) == (3, 30.0)  # one pod waits (30 s: no hook seen yet), two are past
