"""Settings > Notifications in Chromium: an admin adds a webhook target (a wrong URL refused on its
field first), sends a test that a receiver on loopback gets signed, sees it in the deliveries log,
and finds every step in the audit trail, filtered and exported."""

import csv
import io

import pytest

from tests.browser.conftest import screenshot
from tests.webhook_receiver import start_receiver

SECRET = "browser-signing-secret-1"


@pytest.fixture(scope="module")
def receiver():
    server, receiver = start_receiver()
    yield receiver
    server.shutdown()


def test_add_a_webhook_send_a_test_and_find_it_in_the_audit_trail(admin_page, receiver):
    page = admin_page
    page.goto("/settings/")
    page.click("text=Add a notification target")
    page.fill("#id_name", "ops-browser")
    page.fill("#id_url", "ftp://nowhere.example.org/")
    page.fill("#id_secret", SECRET)
    page.click("main button[type=submit]")
    assert "A webhook needs an http:// or https:// URL with a host." in page.inner_text("main")
    page.fill("#id_url", f"{receiver.url}/browser-hook")
    page.fill("#id_secret", SECRET)  # write-only: never rendered back
    page.click("main button[type=submit]")
    page.wait_for_url("**/settings/")
    row = page.locator("#notification-targets tr", has_text="ops-browser")
    assert "backup.failed" in row.inner_text() and "/browser-hook" not in row.inner_text()

    row.locator("button", has_text="Send test").click()
    page.wait_for_url("**/settings/")
    assert "Test notification sent to ops-browser." in page.inner_text("main")
    (request,) = receiver.wait_for("/browser-hook")
    assert request.signature_ok(SECRET) and request.json()["event"] == "test"
    screenshot(page, "notifications-settings")

    page.click("text=Notification deliveries")
    assert "ops-browser" in page.inner_text("#deliveries") and "sent" in page.inner_text("#deliveries")

    page.goto("/settings/audit/")
    page.select_option("#id_object_type", "notification")
    page.wait_for_function("() => document.querySelectorAll('#audit-entries tbody tr').length == 2")
    text = page.inner_text("#audit-entries")
    assert "notification.created" in text and "notification.tested" in text and "ops-browser" in text
    assert "object_type=notification" in page.url  # the filter is in the address, for the export too
    screenshot(page, "audit-filtered")
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
    assert [r["action"] for r in rows] == ["notification.created", "notification.tested"]
    assert all(r["object_name"] == "ops-browser" and r["username"] == "ada" for r in rows)
    assert page.problems == []
