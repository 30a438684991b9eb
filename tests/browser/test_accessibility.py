"""Every page, with real data (a backup of the sample cluster's shop namespace, hooks and all), in
headless Chromium: axe-core finds no WCAG 2.1 A/AA violation, and at 390 px wide (a phone) nothing
makes the page wider than the screen. Screenshots of each page at both widths."""

import re

import pytest

from tests.browser.conftest import ADMIN, ADMIN_PASSWORD, REPO, screenshot, shell

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def finished_backup(stack_env):
    from tests.browser.conftest import manage

    manage(
        stack_env, "backup", "create", "a11y-1", "--cluster", "sample", "--include-namespaces", "shop",
        "--wait", "--timeout", "180", timeout=240,
    )  # fmt: skip
    code = "from backups.models import Backup as B; b = B.objects.get(name='a11y-1')\n"
    out = shell(stack_env, code + "print('IDS', b.pk, b.storage_location_id)")
    backup, location = re.search(r"IDS (\d+) (\d+)", out).groups()
    return int(backup), int(location)


@pytest.fixture(scope="module")
def finished_restore(stack_env, finished_backup, tmp_path_factory):
    """The backup restored into an empty emulator of its own: a restore page with tiers."""
    from emulator import KubeEmulator
    from tests.browser.conftest import manage

    with KubeEmulator([]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path_factory.mktemp("a11y-kube") / "kubeconfig"))
        manage(stack_env, "cluster", "add", "a11y-target", "--kubeconfig", kubeconfig)
        manage(
            stack_env, "restore", "create", "a11y-r", "--from-backup", "a11y-1", "--cluster", "a11y-target",
            "--wait", "--timeout", "180", timeout=240,
        )  # fmt: skip
        code = "from backups.models import Restore as R; print('ID', R.objects.get(name='a11y-r').pk)"
        out = shell(stack_env, code)
        yield int(re.search(r"ID (\d+)", out).group(1))


@pytest.fixture(scope="module")
def admin_context(browser, live_server_url, stack_env):
    """A signed-in admin whose pages accept axe's script (the CSP would refuse it)."""
    shell(
        stack_env,
        "from django.contrib.auth.models import Group, User\n"
        f"u, _ = User.objects.get_or_create(username={ADMIN!r})\n"
        f"u.set_password({ADMIN_PASSWORD!r}); u.save()\n"
        "u.groups.add(Group.objects.get(name='admin'))",
    )
    context = browser.new_context(base_url=live_server_url, bypass_csp=True)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", ADMIN)
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server_url}/")
    page.close()
    yield context
    context.close()


@pytest.fixture(scope="module")
def notification_target(stack_env) -> int:
    """A webhook target with a delivery sent and one given up, for the Settings pages."""
    out = shell(
        stack_env,
        "from backups.models import NotificationDelivery as D, NotificationTarget as T\n"
        "t = T.objects.create(name='ops-webhook', url='https://hooks.example.org/veloweb?token=x',"
        " secret='a-long-enough-secret', events=['backup.failed', 'backup.partially_failed'])\n"
        "D.objects.create(target=t, target_name=t.name, event='backup.failed',"
        " subject='Backup a11y-0 Failed', state='sent', attempts=1)\n"
        "D.objects.create(target=t, target_name=t.name, event='test',"
        " subject='Veloweb test notification', state='failed', attempts=5,"
        " last_error='webhook https://hooks.example.org answered HTTP 503')\n"
        "print('TARGET', t.pk)",
    )
    return int(re.search(r"TARGET (\d+)", out).group(1))


def audit(page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page, one line each."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations",
        WCAG,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(n['target'][0] for n in v['nodes'][:3])}"
        for v in violations
    ]


def overflow(page) -> int:
    """How many pixels the page is wider than the viewport (0 when nothing spills over)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def pages(backup_id: int, location_id: int, restore_id: int) -> dict[str, str]:
    return {
        "restores": "/restores/",
        "restore-form": f"/backups/{backup_id}/restore/",
        "restore-detail": f"/restores/{restore_id}/",
        "location": f"/locations/{location_id}/",
        "history": "/",
        "new-backup": "/backups/new/",
        "backup-detail": f"/backups/{backup_id}/",
        "backup-resources": f"/backups/{backup_id}/resources/",
        "backup-items": f"/backups/{backup_id}/items/?resource=configmaps",
        "backup-item": f"/backups/{backup_id}/item/?resource=configmaps&namespace=shop&name=web-config",
        "backup-secret": f"/backups/{backup_id}/item/?resource=secrets&namespace=shop&name=db-credentials",
        "item-live": f"/backups/{backup_id}/item/live/?resource=configmaps&namespace=shop&name=web-config",
        "item-search": "/items/search/?resource=configmap&namespace=shop&name=web-config",
        "backup-diff-pick": f"/backups/{backup_id}/diff/",
        "compare": "/compare/",
        "backup-log": f"/backups/{backup_id}/log/",
        "backup-log-filtered": f"/backups/{backup_id}/log/?level=info&q=db-0",
        "backup-blocks-filtered": f"/backups/{backup_id}/?state=done&q=shop",
        "backup-delete": f"/backups/{backup_id}/delete/",
        "definitions": "/definitions/",
        "settings": "/settings/",
        "new-cluster": "/settings/clusters/new/",
        "new-location": "/settings/locations/new/",
        "audit": "/settings/audit/",
        "new-notification": "/settings/notifications/new/",
        "notification-deliveries": "/settings/notifications/deliveries/",
        "api-tokens": "/settings/tokens/",
        "api-docs": "/api/v1/docs/",
    }


def check(page, name: str, problems: list[str]) -> None:
    """The page as loaded at each width (a reload: graphs and layouts are sized when they load)."""
    for size, label in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        page.reload()
        page.wait_for_load_state("networkidle")
        problems += [f"{name} ({label}): {line}" for line in audit(page)]
        if size is PHONE and (extra := overflow(page)) > 0:
            problems.append(f"{name} (phone): the page is {extra}px wider than the screen")
        screenshot(page, f"a11y-{name}-{label}")


def check_once(page, name: str, problems: list[str]) -> None:
    """A page that a reload would post again (a POST's answer): checked as it is, at desktop width."""
    problems += [f"{name}: {line}" for line in audit(page)]
    screenshot(page, f"a11y-{name}-desktop")


def test_every_page_passes_axe_and_fits_a_phone(
    admin_context, finished_backup, finished_restore, notification_target, live_server_url, browser
):
    problems: list[str] = []
    page = admin_context.new_page()
    page.goto("/settings/tokens/")  # a token, so that its page lists one
    page.fill("#token-name", "a11y script")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#new-token")
    check_once(page, "api-token-created", problems)
    every = {
        **pages(*finished_backup, finished_restore),
        "notification-edit": f"/settings/notifications/{notification_target}/",
    }
    for name, url in every.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        check(page, name, problems)

    page.goto("/backups/new/")  # a preview and one of its blocks, computed from the cluster
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_included_namespaces", "shop")
    page.click("#preview-button")
    page.wait_for_selector("#preview-summary", timeout=30_000)
    check(page, "preview", problems)
    preview_url = page.url
    page.click("#preview-excluded")  # the excluded items, with why
    page.wait_for_selector("#excluded-items")
    check(page, "preview-excluded", problems)
    page.goto(preview_url)
    page.locator("#preview-body a[href*='/blocks/']").first.click()
    page.wait_for_selector("#block-graph[data-ready]", timeout=15_000)
    check(page, "preview-block", problems)

    page.goto(f"/backups/{finished_backup[0]}/restore/")  # a dry run of restoring it into the cluster
    page.click("#dry-run-button")
    page.wait_for_url(re.compile(r"/restores/dry-runs/"), timeout=60_000)
    check(page, "restore-dry-run", problems)
    page.close()

    page = admin_context.new_page()  # on a phone the menu folds behind its button
    page.set_viewport_size(PHONE)
    page.goto("/")
    assert not page.locator("#site-nav").is_visible()
    page.click("header .menu-toggle")
    assert page.get_attribute("header .menu-toggle", "aria-expanded") == "true"
    page.click("#site-nav >> text=Settings")
    page.wait_for_url("**/settings/")
    page.keyboard.press("Tab")  # the first stop is the skip link
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.close()

    anonymous = browser.new_context(base_url=live_server_url, bypass_csp=True).new_page()
    anonymous.goto("/accounts/login/")
    check(anonymous, "login", problems)
    anonymous.context.close()
    assert problems == [], "\n".join(problems)


def test_the_diff_of_two_backups_passes_axe(admin_context, finished_backup, stack_env):
    """The diff page with real changes: a second backup of shop (its snapshots are new ones)."""
    from tests.browser.conftest import manage

    manage(
        stack_env, "backup", "create", "a11y-2", "--cluster", "sample", "--include-namespaces", "shop",
        "--wait", "--timeout", "180", timeout=240,
    )  # fmt: skip
    out = shell(
        stack_env, "from backups.models import Backup as B; print('ID', B.objects.get(name='a11y-2').pk)"
    )
    second = int(re.search(r"ID (\d+)", out).group(1))
    problems: list[str] = []
    page = admin_context.new_page()
    page.goto(f"/backups/{second}/diff/?with={finished_backup[0]}")
    page.wait_for_load_state("networkidle")
    check(page, "backup-diff", problems)
    page.close()
    assert problems == [], "\n".join(problems)


def test_the_operator_pages_pass_axe(admin_context, finished_backup, stack_env, live_server_url, browser):
    """The history's bulk delete, Settings' user pages (add, reset, the one-time password, the role
    confirmation), the friendly 403 and 404, storage that cannot be reached, the password change."""
    out = shell(
        stack_env,
        "from django.contrib.auth.models import Group, User\n"
        "from backups.models import Backup, StorageLocation\n"
        "u, _ = User.objects.get_or_create(username='a11y-someone')\n"
        "u.groups.add(Group.objects.get(name='viewer'))\n"
        "v, _ = User.objects.get_or_create(username='a11y-viewer')\n"
        "v.set_password('viewer-Pass-42'); v.save(); v.groups.add(Group.objects.get(name='viewer'))\n"
        "gone, _ = StorageLocation.objects.get_or_create(name='a11y-gone', path='/nonexistent/a11y')\n"
        "b, _ = Backup.objects.get_or_create(name='a11y-gone-1', defaults=dict(phase='Completed',"
        " storage_location=gone))\n"
        "print('IDS', u.pk, b.pk)",
    )
    user_id, unreachable = (int(n) for n in re.search(r"IDS (\d+) (\d+)", out).groups())
    backup_id = finished_backup[0]
    problems: list[str] = []
    page = admin_context.new_page()
    for name, url in {
        "bulk-delete": f"/backups/delete/?ids={backup_id}&ids={unreachable}",
        "user-new": "/settings/users/new/",
        "user-password": f"/settings/users/{user_id}/password/",
        "not-found": "/backups/999999/",
        "storage-unreachable": f"/backups/{unreachable}/download/logs/",
        "password-change": "/accounts/password_change/",
    }.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        check(page, name, problems)

    page.goto("/settings/")
    page.locator(f"#user-{user_id} select[name=role]").select_option("operator")
    page.wait_for_selector("#role-change")
    check_once(page, "confirm-role", problems)
    page.goto(f"/settings/users/{user_id}/password/")
    page.click("#user-password button[type=submit]")
    page.wait_for_selector("#one-time-password")
    check_once(page, "one-time-password", problems)
    page.close()

    viewer = browser.new_context(base_url=live_server_url, bypass_csp=True).new_page()
    viewer.goto("/accounts/login/")
    viewer.fill("#id_username", "a11y-viewer")
    viewer.fill("#id_password", "viewer-Pass-42")
    viewer.click("main button[type=submit]")
    viewer.wait_for_url(f"{live_server_url}/")
    viewer.goto("/settings/")
    assert "This needs the admin role" in viewer.inner_text("#error-page")
    check(viewer, "forbidden", problems)
    viewer.context.close()
    assert problems == [], "\n".join(problems)
