"""The operator's day in headless Chromium against the real stack and the sample cluster:
sign in, define, preview (the db block's graph), back up now, watch every block finish, browse
the resource list, download the tarball. Plus the idle-socket regression (stack notes pitfall 1)."""

import gzip
import re
import time

import pytest

from tests.browser.conftest import REPO, backup_state, screenshot, shell

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")

# Until the run machinery calls backups.live.progress, the page shows job progress on reload only.
JOBS_NOTIFY = "progress" in (REPO / "backups" / "runs" / "batches.py").read_text()


def wait_socket_open(page):
    page.wait_for_selector("body[data-ws=open]", timeout=10_000)


def test_define_preview_trigger_watch_browse_download(page, stack_env):
    screenshot(page, "01-history")
    page.goto("/backups/new/")
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_name_prefix", "e2e")
    page.fill("#id_ttl", "soon")
    page.click("#backup-now")
    assert "invalid ttl" in page.inner_text("#id_ttl-errors")
    screenshot(page, "02-define-with-error")
    page.fill("#id_ttl", "24h")
    page.click("#preview-button")

    page.wait_for_selector("#preview-summary", timeout=30_000)
    blocks = int(page.inner_text("#preview-blocks"))
    assert blocks > 10
    screenshot(page, "03-preview")
    preview_url = page.url
    page.fill("#item-search", "pvc-db-2")
    page.click("form.search button")
    page.wait_for_selector("#found a")
    page.click("#found a")
    page.wait_for_selector("#block-graph[data-ready]", timeout=15_000)
    assert int(page.get_attribute("#block-graph", "data-ready")) == 10  # the db block: pods, claims, volumes
    assert page.locator("#block-graph canvas").count() > 0
    screenshot(page, "04-block-graph")
    page.goto(preview_url)
    page.wait_for_selector("#preview-summary")

    page.click("#backup-now")
    page.wait_for_url(re.compile(r"/backups/\d+/$"))
    wait_socket_open(page)
    deadline = time.monotonic() + 120
    while True:
        done = page.locator("#live tr.state-done, #live tr.state-failed").count()
        if done == blocks and page.locator("#resources-link").count():
            break
        assert time.monotonic() < deadline, f"{done}/{blocks} blocks finished"
        if JOBS_NOTIFY:
            page.wait_for_timeout(200)
        else:
            page.wait_for_timeout(1000)
            page.reload()
            wait_socket_open(page)
    assert page.locator("#live tr.state-failed").count() == 0
    assert "Completed" in page.inner_text("#phase")
    # told to screen readers, in the polite live region that stays in place
    page.wait_for_function("() => document.getElementById('announce').textContent.includes('finished')")
    assert page.inner_text("#announce").endswith("finished: Completed.")
    screenshot(page, "05-backup-done")
    detail_url = page.url

    page.click("#resources-link")
    page.wait_for_selector("#resource-list")
    page.click("text=shop")
    assert "shop/db-0" in page.inner_text("#resource-list")
    screenshot(page, "06-resource-list")
    page.goto(detail_url)
    with page.expect_download() as download:
        page.click("#download-tarball")
    path = download.value.path()
    with gzip.open(path) as tarball:
        assert tarball.read(512)
    assert download.value.suggested_filename.endswith(".tar.gz")
    assert page.problems == []


def test_an_idle_socket_still_receives_updates(page, stack_env, live_server_url):
    """redis-py 8 timed channels-redis out after 5 s idle; the page then silently stopped updating."""
    shell(
        stack_env,
        "from backups.models import Backup, BlockRun, Cluster\n"
        "b = Backup.objects.create(name='idle-1', cluster=Cluster.objects.get(name='sample'),\n"
        "    phase='InProgress', total_blocks=2)\n"
        "BlockRun.objects.create(backup=b, index=0, batch=0, item_count=1, first_item='pods a/b')\n"
        "BlockRun.objects.create(backup=b, index=1, batch=0, item_count=1, first_item='pods a/c')",
    )
    try:
        backup = backup_state(stack_env, "idle-1")
        page.goto(f"/backups/{backup['id']}/")
        wait_socket_open(page)
        assert page.locator("#block-1.state-queued").count() == 1
        page.wait_for_timeout(12_000)
        shell(
            stack_env,
            "from backups.live import progress\nfrom backups.models import Backup, BlockRun\n"
            "b = Backup.objects.get(name='idle-1')\n"
            "BlockRun.objects.filter(backup=b, index=1).update(state='done')\n"
            "Backup.objects.filter(pk=b.pk).update(blocks_done=1)\n"
            "progress.blocks_changed(b.pk, [1])",
        )
        page.wait_for_selector("#block-1.state-done", timeout=5_000)
        assert page.inner_text("#blocks-done") == "1 / 2"
        assert page.get_attribute("body", "data-ws") == "open"
        screenshot(page, "07-live-after-idle")
    finally:  # a running backup would hold other tests' backups in the queue
        shell(
            stack_env,
            "from backups.models import Backup\n"
            "Backup.objects.filter(name='idle-1').update(phase='Completed')",
        )
    assert page.problems == []
