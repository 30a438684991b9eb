"""User management in Chromium: an admin adds a user (a one-time password, shown once, that the user
must change at the first sign-in), changes their role after a confirmation page, disables them;
the last admin cannot disable themselves. Plus "Back up now" double-clicked: one backup, shown."""

import json
import re

import pytest

from tests.browser.conftest import ADMIN, screenshot, shell

pytestmark = pytest.mark.usefixtures("sample_cluster")
NEW_PASSWORD = "uma-Own-Pass-83"


def sign_in(browser, base_url, username, password):
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    return page


def test_add_a_user_change_the_role_disable(admin_page, browser, live_server_url, stack_env):
    page = admin_page
    page.goto("/settings/")
    page.click("#add-user")
    page.fill("#id_username", "uma")
    page.select_option("#id_role", "operator")
    page.click("#user-new button[type=submit]")
    password = page.inner_text("#one-time-password").strip()
    assert len(password) >= 16
    screenshot(page, "users-one-time-password")

    uma = sign_in(browser, live_server_url, "uma", password)
    uma.wait_for_url(re.compile(r"/accounts/password_change/"))  # before anything else
    screenshot(uma, "users-change-one-time-password")
    uma.fill("#id_old_password", password)
    uma.fill("#id_new_password1", NEW_PASSWORD)
    uma.fill("#id_new_password2", NEW_PASSWORD)
    uma.click("#password-change button[type=submit]")
    uma.wait_for_url(re.compile(r"/accounts/password_change/done/"))
    uma.goto("/")
    assert uma.locator("a:text-is('New backup')").count() >= 1  # an operator now

    page.goto("/settings/")
    row = page.locator("#users tr", has_text="uma")
    row.locator("select[name=role]").select_option("")  # sends the form: the confirmation
    page.wait_for_selector("#role-change")
    assert "From operator to no access" in page.inner_text("#role-change")
    screenshot(page, "users-confirm-role")
    page.click("#confirm-role")
    page.wait_for_url(re.compile(r"/settings/$"))
    assert "uma is now without access." in page.inner_text(".messages")

    uma.fill("#id_q", "anything")  # her open history asks for rows (htmx): the 403 fragment in main
    uma.wait_for_selector("main #error-page")
    assert "This needs the viewer role" in uma.inner_text("#error-page")
    assert uma.locator("main form.filters").count() == 0 and uma.locator("header nav").count() == 1
    screenshot(uma, "users-htmx-forbidden")
    uma.context.close()

    row = page.locator("#users tr", has_text="uma")
    row.locator("button:text-is('Disable')").click()
    page.wait_for_url(re.compile(r"/settings/$"))
    assert "uma is disabled." in page.inner_text(".messages")
    assert "disabled" in page.locator("#users tr", has_text="uma").inner_text()
    screenshot(page, "users-settings")
    refused = sign_in(browser, live_server_url, "uma", NEW_PASSWORD)
    assert "didn't match" in refused.inner_text("main")
    refused.context.close()

    admins = shell(
        stack_env,
        "from backups.services.users import active_admins\nprint('ADMINS', active_admins().count())",
    )
    if re.search(r"ADMINS (\d+)", admins).group(1) == "1":  # ada is the only one (this file alone)
        page.locator("#users tr", has_text=f"{ADMIN} (you)").locator("button:text-is('Disable')").click()
        page.wait_for_url(re.compile(r"/settings/$"))
        assert f"{ADMIN} is the last active admin" in page.inner_text(".messages")
        screenshot(page, "users-last-admin")
    assert page.problems == [], page.problems


def made(stack_env, prefix) -> list:
    out = shell(
        stack_env,
        "import json\nfrom backups.models import Backup as B\n"
        f"print(json.dumps(list(B.objects.filter(name__startswith={prefix!r}).values_list('pk', 'name'))))",
    )
    return json.loads(out.strip().splitlines()[-1])


def test_back_up_now_double_clicked_creates_one_backup_and_shows_it(page, stack_env, live_server_url):
    page.goto("/backups/new/")
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_name_prefix", "dblclick")
    page.fill("#id_included_namespaces", "shop")
    page.dblclick("#backup-now")
    page.wait_for_url(re.compile(r"/backups/\d+/$"))
    backups = made(stack_env, "dblclick-")
    assert len(backups) == 1, backups
    assert page.url == f"{live_server_url}/backups/{backups[0][0]}/"  # the backup it created
    assert backups[0][1] in page.inner_text("h1")
    screenshot(page, "back-up-now-double-click")


def test_the_two_posts_of_a_slow_double_click_make_one_backup(page, stack_env):
    """Chromium folds a quick double click into one request; on a slow network the second click
    posts the form again while the first is under way: both posts at once, from the page."""
    page.goto("/backups/new/")
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_name_prefix", "twoposts")
    page.fill("#id_included_namespaces", "shop")
    statuses = page.evaluate(
        """async () => {
            const form = document.getElementById('backup-now').form;
            const post = () => {
                const data = new FormData(form);
                data.append('backup', '1');
                return fetch(form.action || location.href, {method: 'POST', body: data, redirect: 'manual'});
            };
            const answers = await Promise.all([post(), post()]);
            return answers.map((a) => a.type === 'opaqueredirect' ? 302 : a.status);
        }"""
    )
    assert statuses == [302, 302]
    assert len(made(stack_env, "twoposts-")) == 1
