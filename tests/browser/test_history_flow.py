"""The history in Chromium against the real stack: a backup started elsewhere appears and moves
to Completed without a reload (the history socket), columns sort both ways, the namespace filter
matches globs as the backup did, filters survive the Back button, and an operator deletes several
backups after a confirmation that lists them."""

import re
import time

import pytest

from tests.browser.conftest import manage, screenshot, shell
from tests.browser.test_live_backup_page import own_server  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")

ROWS = """
from backups.models import Backup
for name, includes in [("hist-glob", ["pay*"]), ("hist-named", ["payments"]), ("hist-shop", ["shop"])]:
    Backup.objects.get_or_create(name=name, defaults=dict(phase="Completed", included_namespaces=includes))
"""


def names(page) -> list[str]:
    return page.locator("#history-body tr td:nth-child(2) a").all_inner_texts()


def test_live_rows_and_sorting(page, stack_env):
    page.goto("/")
    page.wait_for_selector("body[data-ws=open]", timeout=10_000)
    page.evaluate("() => { window.notReloaded = true; }")
    manage(
        stack_env, "backup", "create", "hist-live-1", "--cluster", "sample", "--include-namespaces", "shop"
    )
    row = page.locator("#history-body tr", has_text="hist-live-1")
    row.wait_for(timeout=15_000)  # a new backup: the body came over the socket
    seen = set()
    deadline = time.monotonic() + 120
    while "Completed" not in seen:
        assert time.monotonic() < deadline, f"phases seen: {seen}"
        seen.add(row.locator(".badge").first.inner_text().strip())
        page.wait_for_timeout(100)
    assert page.evaluate("() => window.notReloaded") is True  # no reload: the row was swapped live
    assert seen & {"Queued", "Ready To Start", "In Progress", "Finalizing"}, seen
    screenshot(page, "history-live")

    shell(stack_env, ROWS)
    page.reload()
    page.click("th a[data-sort=name]")
    page.wait_for_url(re.compile(r"sort=name"))
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    shown = names(page)
    assert shown == sorted(shown)
    page.click("th a[data-sort=name]")
    page.wait_for_url(re.compile(r"sort=-name"))
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "descending"
    assert names(page) == sorted(shown, reverse=True)
    screenshot(page, "history-sorted")


def test_glob_filter_back_button_and_bulk_delete(page, stack_env):
    shell(stack_env, ROWS)
    page.goto("/?sort=name")
    page.fill("#id_namespace", "payments")
    page.wait_for_url(re.compile(r"namespace=payments"))
    page.wait_for_function("() => !document.querySelector('#history-body').textContent.includes('hist-shop')")
    shown = [n for n in names(page) if n.startswith("hist-")]
    assert {"hist-glob", "hist-named"} <= set(shown) and "hist-shop" not in shown
    assert "sort=name" in page.url  # a filter keeps the sort
    page.fill("#id_namespace", "pay*")
    page.wait_for_url(re.compile(r"namespace=pay%2A|namespace=pay\*"))
    page.wait_for_timeout(300)
    assert {"hist-glob", "hist-named"} <= set(names(page))
    screenshot(page, "history-glob-filter")

    filtered = page.url
    page.click("#history-body a:text-is('hist-named')")
    page.wait_for_url(re.compile(r"/backups/\d+/$"))
    page.go_back()
    page.wait_for_url(filtered)
    page.wait_for_selector("#history-body")
    assert page.input_value("#id_namespace") == "pay*"
    assert "hist-shop" not in names(page) and "hist-glob" in names(page)

    for name in ("hist-glob", "hist-named"):
        page.locator("#history-body tr", has_text=name).locator("input[name=ids]").check()
    page.click("#bulk-delete-button")
    page.wait_for_url(re.compile(r"/backups/delete/"))
    going = page.inner_text("#going")
    assert "hist-glob" in going and "hist-named" in going and "hist-shop" not in going
    screenshot(page, "history-bulk-delete-confirm")
    page.click("#confirm-bulk-delete")
    page.wait_for_url(re.compile(r"/\?.*namespace="))
    assert "Deleted 2: hist-glob, hist-named." in page.inner_text(".messages")
    assert page.input_value("#id_namespace") == "pay*"
    assert not {"hist-glob", "hist-named"} & set(names(page))
    screenshot(page, "history-after-bulk-delete")


def test_a_dropped_connection_shows_a_sign_and_the_rows_catch_up(
    browser,
    stack_env,
    own_server,  # noqa: F811 - the fixture imported above
    operator_user,
):
    url, start, halt = own_server
    shell(
        stack_env,
        "from backups.models import Backup\n"
        "Backup.objects.create(name='hist-dropped', phase='InProgress', total_items=10, items_backed_up=2)",
    )
    context = browser.new_context(base_url=url)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("#id_username", operator_user[0])
        page.fill("#id_password", operator_user[1])
        page.click("main button[type=submit]")
        page.wait_for_url(f"{url}/")
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        assert page.locator("#live-status").is_hidden()
        halt()
        page.wait_for_selector("#live-status[data-state=lost]", timeout=15_000)
        shell(
            stack_env,
            "from backups.models import Backup as B\n"
            "B.objects.filter(name='hist-dropped').update(phase='Completed', items_backed_up=10)",
        )
        start()
        page.wait_for_selector("#live-status[data-state=restored]", timeout=30_000)
        assert "the backups as they are now" in page.inner_text("#live-status")
        row = page.locator("#history-body tr", has_text="hist-dropped")
        row.locator(".badge:text-is('Completed')").wait_for(timeout=10_000)  # the snapshot on reconnect
        screenshot(page, "history-connection-back")
    finally:
        context.close()
        shell(
            stack_env,
            "from backups.models import Backup\nBackup.objects.filter(name='hist-dropped').delete()",
        )
