"""The live backup page never looks frozen: during a long hook it shows which hook runs in
which pod and for how long, the elapsed time keeps moving, the ETA counts the hook work left;
a dropped connection shows a sign and the page catches up when it is back; afterwards the
timing breakdown and the full log, filtered and searched."""

import re
import sys

import pytest

from tests.browser.conftest import PASSWORD, REPO, USERNAME, backup_state, manage, screenshot, shell
from veloweb.processes import free_port, spawn, stop, wait_for_http

HOOK_SECONDS = 30.0  # the page opens seconds in on a loaded machine (manage.py starts slowly)


def seconds_of(text: str) -> int:
    """ "1m 5s" → 65, "7s" → 7."""
    total = 0
    for number, unit in re.findall(r"(\d+)([hms])", text):
        total += int(number) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


@pytest.mark.usefixtures("rq_workers")
def test_a_long_hook_is_shown_running_and_the_clock_moves(page, stack_env, sample_emulator):
    sample_emulator.script_exec("shop", "db-0", "postgres", delay=HOOK_SECONDS, match="--freeze")
    try:
        # created from the form, not the CLI: a manage.py process starts slowly on a loaded
        # machine, and the page must be open while the hook still runs
        page.goto("/backups/new/")
        page.select_option("#id_cluster", label="sample")
        page.fill("#id_name_prefix", "longhook")
        page.fill("#id_included_namespaces", "shop")
        page.click("#backup-now")
        page.wait_for_url(re.compile(r"/backups/\d+/$"))
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        # the other pods' hooks are quick; db-0's is the long one
        hook = page.wait_for_selector(
            "#running-hooks li.running-hook:has-text('shop/db-0')", timeout=HOOK_SECONDS * 1000
        )
        text = hook.inner_text()
        assert "shop/db-0" in text and "postgres" in text and "fsfreeze --freeze" in text, text
        assert page.inner_text("#running-hooks .badge") == "pre-hook"
        since = page.locator("#running-hooks [data-tick=since]")
        first_hook, first_elapsed = seconds_of(since.inner_text()), seconds_of(page.inner_text("#elapsed"))
        eta = page.inner_text("#eta")
        page.wait_for_timeout(2_500)
        screenshot(page, "live-long-hook")
        assert seconds_of(page.inner_text("#running-hooks [data-tick=since]")) >= first_hook + 2
        assert seconds_of(page.inner_text("#elapsed")) >= first_elapsed + 2
        # the ETA is the hook's time left (the plan's items are few and fast), not "0s"
        assert "hooked pods left" in eta and seconds_of(eta) >= 1, eta
        total_blocks = page.inner_text("#blocks-done").split("/")[1].strip()
        assert page.inner_text("#blocks-heading").split()[1] == total_blocks != "0"

        page.wait_for_selector("#resources-link", timeout=60_000)
        assert page.locator("#running-hooks li").count() == 0
        timings = page.text_content("#timings")
        for stage in ("Planning", "Blocks", "Hooks", "Longest freeze", "Snapshots", "Finalize", "Upload"):
            assert stage in timings, timings
        freeze = re.search(r"Longest freeze\s*([\d.]+)s\s+(\S+)", timings)
        assert freeze and float(freeze.group(1)) >= HOOK_SECONDS and freeze.group(2) == "shop/db-0", timings
        screenshot(page, "live-timings")
    finally:
        sample_emulator.clear_exec_scripts()
    assert page.problems == []


@pytest.mark.usefixtures("rq_workers")
def test_the_full_log_with_filter_and_search(page, stack_env, sample_cluster):
    manage(stack_env, "backup", "create", "fulllog-1", "--cluster", "sample", "--include-namespaces", "shop",
           "--wait", "--timeout", "90")  # fmt: skip
    backup = backup_state(stack_env, "fulllog-1")
    page.goto(f"/backups/{backup['id']}/")
    page.click("#full-log-link")
    page.wait_for_url(re.compile(r"/log/$"))
    rows = page.locator("#log-lines tr")
    total = rows.count()
    assert total > 3 and "hook" in page.inner_text("#log-lines")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", page.inner_text("#log-lines tr >> nth=0 >> time"))
    screenshot(page, "log-full")
    page.select_option("#log-level", "info")
    page.fill("#log-q", "db-1")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"level=info"))
    found = page.locator("#log-lines tr")
    assert 0 < found.count() < total
    assert all("db-1" in row for row in found.all_inner_texts())
    assert "matching" in page.inner_text("#log-count")
    screenshot(page, "log-filtered")
    page.select_option("#log-level", "error")
    page.fill("#log-q", "")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"level=error"))
    assert "No line matches the filter." in page.inner_text("#log-lines")
    page.go_back()
    page.wait_for_url(re.compile(r"q=db-1"))
    assert all("db-1" in row for row in page.locator("#log-lines tr").all_inner_texts())
    assert page.problems == []


@pytest.fixture
def own_server(stack_env, tmp_path):
    """A uvicorn of this test's own, which the test stops and starts again on the same port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs = []

    def start():
        log = tmp_path / f"uvicorn-{len(procs)}.log"
        proc = spawn(
            [sys.executable, "-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--lifespan", "off"],
            env=stack_env, cwd=REPO, log=log,
        )  # fmt: skip
        procs.append(proc)
        wait_for_http(f"{url}/", proc, timeout=30, log=log)

    start()
    yield url, start, lambda: stop(procs[-1])
    for proc in procs:
        stop(proc)


def test_a_dropped_connection_shows_a_sign_and_the_page_catches_up(
    browser, stack_env, own_server, operator_user
):
    url, start, halt = own_server
    shell(
        stack_env,
        "from backups.models import Backup, BlockRun, Cluster\n"
        "b = Backup.objects.create(name='dropped-1', cluster=Cluster.objects.first(), phase='InProgress',\n"
        "    total_blocks=1, total_items=10, items_backed_up=2)\n"
        "BlockRun.objects.create(backup=b, index=0, batch=0, item_count=10, first_item='pods a/b',\n"
        "    state='items')",
    )
    backup = backup_state(stack_env, "dropped-1")
    context = browser.new_context(base_url=url)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", USERNAME)
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{url}/")
        page.goto(f"/backups/{backup['id']}/")
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        assert page.locator("#live-status").is_hidden()
        assert page.inner_text("#items-done") == "2 / 10"

        halt()
        page.wait_for_selector("#live-status[data-state=lost]", timeout=15_000)
        assert "Live connection lost" in page.inner_text("#live-status")
        screenshot(page, "live-connection-lost")
        # what happens while the page is cut off is sent when it is back
        shell(
            stack_env,
            "from backups.models import Backup\n"
            f"Backup.objects.filter(pk={backup['id']}).update(items_backed_up=7)",
        )
        start()
        page.wait_for_selector("#live-status[data-state=restored]", timeout=30_000)
        page.wait_for_function(
            "() => document.getElementById('items-done').textContent.trim() === '7 / 10'", timeout=10_000
        )
        screenshot(page, "live-connection-back")
        page.wait_for_selector("#live-status", state="hidden", timeout=15_000)
    finally:
        context.close()
        shell(
            stack_env, f"from backups.models import Backup\nBackup.objects.filter(pk={backup['id']}).delete()"
        )
