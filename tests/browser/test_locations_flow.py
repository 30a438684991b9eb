"""An admin's storage-location flow in headless Chromium against the real stack: add an S3 location
with a wrong secret and read the error, fix it, check access, make it the default, browse the backups
already in the bucket and import one, which then shows in the history. The bucket is moto's server
with IAM authentication on; the secret never appears in any page's HTML."""

import re

import pytest

from backups.engine.velero_format.backup_json import BackupJsonStatus, dump_backup_json, velero_backup_json
from tests.browser.conftest import screenshot, shell
from tests.moto_s3 import start_s3_server, stop_s3_server

pytestmark = pytest.mark.usefixtures("sample_cluster")
FOUND = "velero-nightly-20250102030405"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log", bucket="veloweb-e2e")
    try:
        yield server
    finally:
        stop_s3_server(proc)


@pytest.fixture
def keep_default(stack_env):
    """Other tests in this session back up to the default location: give it back afterwards."""
    before = (
        shell(
            stack_env,
            "from backups.models import StorageLocation\n"
            "print(list(StorageLocation.objects.filter(default=True).values_list('pk', flat=True)))",
        )
        .strip()
        .splitlines()[-1]
    )
    yield
    shell(
        stack_env,
        "from backups.models import StorageLocation\n"
        f"StorageLocation.objects.update(default=False)\n"
        f"StorageLocation.objects.filter(pk__in={before}).update(default=True)",
    )


def test_an_admin_adds_checks_defaults_browses_and_imports(admin_page, s3, keep_default):
    page, secret = admin_page, s3.secret_access_key
    status = BackupJsonStatus(phase="Completed", start=1_735_787_045, completion=1_735_787_100, errors=0)
    cr = velero_backup_json(FOUND, status=status)
    client = s3.client()
    client.put_object(
        Bucket=s3.bucket, Key=f"e2e/backups/{FOUND}/velero-backup.json", Body=dump_backup_json(cr)
    )
    client.put_object(Bucket=s3.bucket, Key=f"e2e/backups/{FOUND}/{FOUND}.tar.gz", Body=b"t" * 2048)
    pages = []

    page.goto("/settings/")
    page.click("text=Add a location")
    page.fill("#id_name", "bucket-e2e")
    page.select_option("#id_provider", "s3")
    page.fill("#id_bucket", s3.bucket)
    page.fill("#id_prefix", "e2e")
    page.fill("#id_region", "us-east-1")
    page.fill("#id_endpoint_url", s3.url)
    page.fill("#id_access_key_id", s3.access_key_id)
    page.fill("#id_secret_access_key", "not-the-secret-at-all")
    page.click("form.define button.primary")
    error = page.inner_text("#id_secret_access_key-errors")
    assert "the secret access key does not match the access key id" in error
    assert "not-the-secret-at-all" not in page.content()
    screenshot(page, "locations-01-wrong-secret")
    pages.append(page.content())

    page.fill("#id_secret_access_key", secret)
    page.click("form.define button.primary")
    page.wait_for_url(re.compile(r"/locations/\d+/$"))
    assert "Storage location bucket-e2e saved" in page.inner_text(".messages")
    assert page.inner_text("#access-key") == "••••" + s3.access_key_id[-4:]
    assert "available" in page.inner_text("#location-available")
    pages.append(page.content())

    before = page.inner_text("#location-last-checked")
    page.wait_for_timeout(1100)  # last-checked shows whole seconds: let the next check differ
    page.click("#check-access")
    # a function, not an expression: Playwright evaluates a bare expression with eval, which the CSP blocks
    page.wait_for_function(f"() => document.querySelector('#location-last-checked').innerText !== {before!r}")
    assert "available" in page.inner_text("#location-available")

    page.click("#set-default")
    page.wait_for_selector("#default-badge")
    assert page.locator("#set-default").count() == 0
    screenshot(page, "locations-02-location")
    pages.append(page.content())

    row = page.locator(f"#found-{FOUND}")
    assert "Completed" in row.inner_text()
    row.locator("button", has_text="Import").click()
    page.wait_for_selector(f"#found-{FOUND} a")
    assert f"Backup {FOUND} imported from bucket-e2e (Completed)." in page.inner_text(".messages")
    pages.append(page.content())
    page.click(f"#found-{FOUND} a")
    page.wait_for_selector("#imported-badge")
    assert "Cluster unknown" in page.inner_text("#backup-header")
    screenshot(page, "locations-03-imported-backup")

    page.goto(f"/?q={FOUND}")  # it sorts by when it was made (2025): search, whatever else is there
    history_row = page.locator("tr", has_text=FOUND)
    assert "imported" in history_row.inner_text() and "Completed" in history_row.inner_text()
    pages.append(page.content())
    page.goto("/settings/")
    pages.append(page.content())
    assert all(secret not in html for html in pages)
    assert all(s3.access_key_id not in html for html in pages[1:])
    assert page.problems == []
