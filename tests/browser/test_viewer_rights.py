"""A viewer in Chromium: the backup page says the tarball is for operators and hides hook output;
when the viewer's role is taken away, the live page stops and says why."""

import json

import pytest

from tests.browser.conftest import screenshot, shell

pytestmark = pytest.mark.usefixtures("sample_cluster")
VIEWER, PASSWORD = "vivian", "viewer-Pass-42"
HOOK_OUTPUT = "dumped 12 tables; TOKEN=s3cr3t"


@pytest.fixture(scope="module")
def backups(stack_env):
    out = shell(
        stack_env,
        "import json\nfrom django.contrib.auth.models import Group, User\n"
        "from backups.models import Backup, BlockRun, Cluster, HookRun\n"
        f"u = User.objects.create_user({VIEWER!r}, password={PASSWORD!r})\n"
        "u.groups.add(Group.objects.get(name='viewer'))\n"
        "sample = Cluster.objects.get(name='sample')\n"
        "done = Backup.objects.create(name='viewer-done', cluster=sample, phase='Completed')\n"
        "HookRun.objects.create(backup=done, block_index=0, phase='pre', namespace='shop', pod='db-0',"
        f" container='db', command=['/bin/dump'], exit_code=0, stdout={HOOK_OUTPUT!r}, started=1.0)\n"
        "running = Backup.objects.create(name='viewer-running', cluster=sample, phase='InProgress',"
        " total_blocks=1)\n"
        "BlockRun.objects.create(backup=running, index=0, batch=0, item_count=1, first_item='pods a/b')\n"
        "print(json.dumps({'done': done.pk, 'running': running.pk}))",
    )
    ids = json.loads(out.strip().splitlines()[-1])
    yield ids
    shell(
        stack_env,
        "from backups.models import Backup\n"
        f"Backup.objects.filter(pk={ids['running']}).update(phase='Completed')",
    )


@pytest.fixture
def viewer_page(browser, live_server_url, backups):
    context = browser.new_context(base_url=live_server_url)
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.goto("/accounts/login/")
    page.fill("#id_username", VIEWER)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    yield page
    context.close()


def test_the_tarball_and_hook_output_are_not_offered_to_a_viewer(viewer_page, backups):
    page = viewer_page
    page.goto(f"/backups/{backups['done']}/")
    page.wait_for_selector("body[data-ws=open]")
    tarball = page.locator("#download-tarball")
    assert tarball.get_attribute("aria-disabled") == "true" and tarball.get_attribute("href") is None
    assert "operators can download the tarball" in tarball.inner_text()
    assert page.locator("#resources-link").is_visible()  # the resource list stays
    assert HOOK_OUTPUT not in page.content()
    assert "output hidden: operators can read hook output" in page.inner_text("#hooks")
    screenshot(page, "viewer-backup-done")
    assert page.problems == []


def test_the_live_page_stops_and_says_why_when_the_role_is_removed(viewer_page, backups, stack_env):
    page = viewer_page
    page.goto(f"/backups/{backups['running']}/")
    page.wait_for_selector("body[data-ws=open]")
    try:
        shell(
            stack_env,
            "from django.contrib.auth.models import User\nfrom backups.live import progress\n"
            f"User.objects.get(username={VIEWER!r}).groups.clear()\n"
            f"progress.backup_changed({backups['running']})",  # the next message re-checks the role
        )
        page.wait_for_selector("#live-closed", timeout=10_000)
        assert "your role no longer allows viewing backups" in page.inner_text("#live-closed")
        assert page.get_attribute("body", "data-ws") == "closed"
        screenshot(page, "viewer-live-closed")
    finally:
        shell(
            stack_env,
            "from django.contrib.auth.models import Group, User\n"
            f"User.objects.get(username={VIEWER!r}).groups.add(Group.objects.get(name='viewer'))",
        )
