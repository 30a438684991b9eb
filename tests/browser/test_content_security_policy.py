"""Every page of the dashboard under its Content-Security-Policy in Chromium, with no violation
reported (neither a `securitypolicyviolation` event nor a console error) and htmx still working on
each: the history filter, the preview's polling and the block graph, the backup page's WebSocket,
the settings' role select, the location's "Check access", the definitions' row buttons."""

import pytest

from tests.browser.conftest import screenshot, shell

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")
ADMIN, PASSWORD = "csp-admin", "csp-Admin-Pass-42"

# Runs before any page script (injected by DevTools, so the policy does not apply to it).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture(scope="module")
def site(stack_env, tmp_path_factory):
    """An admin (every page is open to them), a finished backup with blocks and a hook run, a
    scheduled definition and a local storage location, all in the stack's database."""
    store = tmp_path_factory.mktemp("csp-store")
    out = shell(
        stack_env,
        "import json\nfrom django.contrib.auth.models import Group, User\nfrom django.utils import timezone\n"
        "from backups.models import Backup, BackupDefinition, BlockRun, Cluster, HookRun, StorageLocation\n"
        f"u = User.objects.create_user({ADMIN!r}, password={PASSWORD!r})\n"
        "u.groups.add(Group.objects.get(name='admin'))\n"
        "sample = Cluster.objects.get(name='sample')\n"
        "b = Backup.objects.create(name='csp-1', cluster=sample, phase='InProgress', total_blocks=2,"
        " total_items=4, blocks_done=1, items_backed_up=2)\n"
        "BlockRun.objects.create(backup=b, index=0, batch=0, item_count=2, first_item='pods a/b',"
        " state='done')\n"
        "BlockRun.objects.create(backup=b, index=1, batch=0, item_count=2, first_item='pods a/c')\n"
        "HookRun.objects.create(backup=b, block_index=0, phase='pre', namespace='a', pod='b', container='c',"
        " command=['/bin/true'], exit_code=0, stdout='fine', started=1.0)\n"
        "d = BackupDefinition.objects.create(name='csp-nightly', cluster=sample, schedule='0 3 * * *',"
        " schedule_since=timezone.now(), paused=True)\n"
        f"loc = StorageLocation.objects.create(name='csp-local', path={str(store)!r})\n"
        "print(json.dumps({'backup': b.pk, 'definition': d.pk, 'location': loc.pk, 'admin': u.pk}))",
    )
    import json

    ids = json.loads(out.strip().splitlines()[-1])
    yield ids
    shell(
        stack_env,
        "from backups.models import Backup\n"
        f"Backup.objects.filter(pk={ids['backup']}).update(phase='Completed')",
    )


@pytest.fixture
def browse(browser, live_server_url):
    context = browser.new_context(base_url=live_server_url)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.problems = []

    def on_console(message):
        if message.type == "error" or "Content Security Policy" in message.text:
            page.problems.append(f"console: {message.text} at {message.location['url']}")

    page.on("console", on_console)
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
    yield page
    context.close()


def assert_clean(page, name):
    """No violation on the page so far (its own list, then the console), and a screenshot."""
    violations = page.evaluate("window.__csp")
    screenshot(page, f"csp-{name}")
    assert violations == [], f"{name}: {violations}"
    assert page.problems == [], name


def test_every_page_runs_under_the_policy(browse, site, live_server_url):
    page = browse
    response = page.goto("/accounts/login/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    assert_clean(page, "login")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")

    # history: the filter form is htmx (hx-get on keyup, pushes the URL)
    page.locator("input[name=q]").press_sequentially("csp-1")
    page.wait_for_function("() => location.search.includes('q=csp-1')")
    page.wait_for_selector(f"#backup-{site['backup']}")
    assert_clean(page, "history")

    # new backup, then its preview (htmx polls until planned), then a block's graph (Cytoscape)
    page.goto("/backups/new/")
    assert_clean(page, "new-backup")
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_name_prefix", "csp")
    page.click("#preview-button")
    page.wait_for_selector("#preview-summary", timeout=30_000)
    assert_clean(page, "preview")
    page.fill("#item-search", "pvc-db-2")
    page.click("form.search button")
    page.wait_for_selector("#found a")
    page.click("#found a")
    page.wait_for_selector("#block-graph[data-ready]", timeout=15_000)
    assert page.locator("#block-graph canvas").count() > 0
    assert page.locator("#__________cytoscape_stylesheet").evaluate("e => e.tagName") == "META"
    assert_clean(page, "preview-block")

    # the backup page: its WebSocket opens and swaps a progress update in
    page.goto(f"/backups/{site['backup']}/")
    page.wait_for_selector("body[data-ws=open]", timeout=10_000)
    assert page.locator("progress.bar").get_attribute("value") == "50"
    assert "fine" in page.text_content("#hooks")  # an admin reads hook output (in a <details>)
    assert_clean(page, "backup-detail")
    page.goto(f"/backups/{site['backup']}/delete/")
    assert_clean(page, "confirm-delete")

    # definitions: a row button swaps the row (htmx POST with the CSRF header from hx-headers)
    row = f"#definition-{site['definition']}"
    page.goto("/definitions/")
    page.click(f"{row} button.resume")
    page.wait_for_selector(f"{row} button.pause")
    page.click(f"{row} button.pause")
    page.wait_for_selector(f"{row} button.resume")
    assert_clean(page, "definitions")
    page.goto(f"/definitions/{site['definition']}/edit/")
    assert_clean(page, "definition-edit")

    # settings: the role select submits its form (static/veloweb.js, no inline handler)
    page.goto("/settings/")
    assert_clean(page, "settings")
    page.goto("/settings/locations/new/")
    assert_clean(page, "location-new")
    page.goto("/settings/clusters/new/")
    assert_clean(page, "cluster-new")

    # API tokens (a new one shown once) and the API's docs page, rendered on the server
    page.goto("/settings/tokens/")
    page.fill("#token-name", "csp script")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#new-token")
    assert_clean(page, "api-tokens")
    page.goto("/api/v1/docs/")
    assert page.locator("article.api-op").count() > 10
    assert_clean(page, "api-docs")

    # a location's page: "Check access" is an htmx POST swapping the status panel
    page.goto(f"/locations/{site['location']}/")
    assert page.inner_text("#location-last-checked") == "never"
    page.click("#check-access")
    page.wait_for_function("() => document.querySelector('#location-last-checked').textContent !== 'never'")
    assert_clean(page, "location")


def test_the_role_select_submits_without_inline_script(browse, site, stack_env, live_server_url):
    shell(stack_env, "from django.contrib.auth.models import User\nUser.objects.create_user('csp-someone')")
    page = browse
    page.goto("/accounts/login/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    page.goto("/settings/")
    row = page.locator("#users tr", has_text="csp-someone")
    with page.expect_navigation():
        row.locator("select[name=role]").select_option("viewer")
    assert "From no access to viewer" in page.inner_text("#role-change")  # the confirmation first
    assert_clean(page, "settings-role-confirmation")
    with page.expect_navigation():
        page.click("#confirm-role")
    assert "csp-someone is now viewer" in page.inner_text(".messages")
    row = page.locator("#users tr", has_text="csp-someone")
    with page.expect_navigation():
        row.locator("input[name=downloader]").check()
    assert "may download tarballs and read hook output" in page.inner_text(".messages")
    assert page.locator("#users tr", has_text="csp-someone").locator("input[name=downloader]").is_checked()
    assert_clean(page, "settings-roles")
