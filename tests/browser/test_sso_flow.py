"""Single sign-on in Chromium against a real OpenID Connect provider on loopback
(`oidc-provider-mock`): the sign-in page offers SSO only when it is configured; a user signs in at
the provider and comes back with the role its groups claim maps to (admin, operator, or none);
signing out ends the provider's session too and lands on the sign-in page."""

import json
import sys

import pytest

from tests.browser.conftest import screenshot, shell
from tests.conftest import REPO
from veloweb.processes import free_port, spawn, stop, wait_for_http

USERS = [
    {
        "sub": "sub-ada-1",
        "preferred_username": "ada.sso",
        "email": "ada@example.org",
        "groups": ["veloweb-admins", "staff"],
    },
    {
        "sub": "sub-otto-2",
        "preferred_username": "otto.sso",
        "email": "otto@example.org",
        "groups": ["veloweb-ops"],
    },
    {
        "sub": "sub-nina-3",
        "preferred_username": "nina.sso",
        "email": "nina@example.org",
        "groups": ["marketing"],
    },
]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """oidc-provider-mock on a free loopback port, with three users and their groups."""
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", port]
    for user in USERS:
        args += ["--user-claims", json.dumps(user)]
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    proc = spawn(args, cwd=REPO, log=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/.well-known/openid-configuration", proc, timeout=30, log=log)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def sso_url(stack_env, provider, tmp_path_factory):
    """Veloweb under uvicorn with SSO configured from the environment (issuer discovery)."""
    env = {
        **stack_env,
        "VELOWEB_OIDC_ISSUER": provider,
        "VELOWEB_OIDC_CLIENT_ID": "veloweb-test",
        "VELOWEB_OIDC_CLIENT_SECRET": "client-secret-of-veloweb",
        "VELOWEB_OIDC_ROLE_MAP": "veloweb-admins=admin,veloweb-ops=operator,veloweb-readers=viewer",
        "VELOWEB_OIDC_LABEL": "Sign in with Example ID",
    }
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn-sso") / "uvicorn.log"
    proc = spawn(
        [sys.executable, "-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1", "--port", port,
         "--lifespan", "off"],
        env=env,
        cwd=REPO,
        log=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/accounts/login/", proc, timeout=30, log=log)
        yield url
    finally:
        stop(proc)


def sign_in(page, sso_url, sub):
    page.goto(f"{sso_url}/accounts/login/")
    page.click("#sso-login")
    page.wait_for_url("**/oauth2/authorize**")
    page.click(f"button[name=sub][value={sub}]")
    page.wait_for_url(f"{sso_url}/")


def state_of(stack_env, username) -> dict:
    code = (
        "import json\nfrom django.contrib.auth.models import User\nfrom backups.models import AuditEntry\n"
        "from backups.permissions import role_of\n"
        f"u = User.objects.get(username={username!r})\n"
        "print(json.dumps({'role': role_of(u), 'usable': u.has_usable_password(), 'email': u.email,"
        " 'subject': u.sso_identity.subject, 'groups': u.sso_identity.groups,"
        " 'audit': [[e.action, e.via, e.username]"
        " for e in AuditEntry.objects.filter(user=u).order_by('id')]}))"
    )
    return json.loads(shell(stack_env, code).strip().splitlines()[-1])


def test_no_sso_button_when_it_is_not_configured(browser, live_server_url):
    page = browser.new_page(base_url=live_server_url)
    page.goto("/accounts/login/")
    assert page.locator("#id_username").is_visible() and page.locator("#sso-login").count() == 0
    page.close()


def test_sign_in_with_the_role_of_the_groups_claim_and_sign_out(browser, sso_url, stack_env):
    # a local user of the same name as an SSO user's claim is never taken over
    shell(
        stack_env,
        "from django.contrib.auth.models import User\n"
        "User.objects.create_user('otto.sso', password='local-Pass-42')",
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{sso_url}/accounts/login/")
    assert (
        page.inner_text("#sso-login") == "Sign in with Example ID"
        and page.locator("#id_username").is_visible()
    )
    screenshot(page, "sso-login")

    sign_in(page, sso_url, "sub-ada-1")
    nav = page.inner_text("#site-nav")
    assert "Settings" in nav and "Sign out ada.sso" in nav
    screenshot(page, "sso-signed-in-admin")
    ada = state_of(stack_env, "ada.sso")
    assert ada["role"] == "admin" and not ada["usable"] and ada["email"] == "ada@example.org"
    assert (ada["subject"], ada["groups"]) == ("sub-ada-1", ["veloweb-admins", "staff"])
    assert ["user.role_changed", "sso", "ada.sso"] in ada["audit"] and [
        "user.login",
        "sso",
        "ada.sso",
    ] in ada["audit"]

    page.click("#sign-out button")  # to the provider's end-session page, then back to the sign-in page
    page.wait_for_url("**/oauth2/end_session**")
    page.click("button[type=submit]")
    page.wait_for_url(f"{sso_url}/accounts/login/")
    page.goto(f"{sso_url}/")
    assert "/accounts/login/" in page.url  # signed out of Veloweb
    assert ["user.logout", "web", "ada.sso"] in state_of(stack_env, "ada.sso")["audit"]

    sign_in(page, sso_url, "sub-otto-2")  # the operator group: no Settings
    nav = page.inner_text("#site-nav")
    assert "New backup" in nav and "Settings" not in nav
    otto = state_of(stack_env, "otto.sso-sso")  # "otto.sso" is the local user's
    assert otto["role"] == "operator"
    assert page.goto(f"{sso_url}/settings/").status == 403
    context.close()

    context = browser.new_context()  # a group mapped to no role: signed in, sees nothing
    page = context.new_page()
    page.goto(f"{sso_url}/accounts/login/")
    page.click("#sso-login")
    page.click("button[name=sub][value=sub-nina-3]")
    page.wait_for_load_state()
    sign_in_response = page.goto(f"{sso_url}/")
    assert sign_in_response.status == 403
    assert state_of(stack_env, "nina.sso")["role"] is None
    context.close()
    local = json.loads(
        shell(stack_env, "import json\nfrom django.contrib.auth.models import User\n"
              "print(json.dumps(User.objects.get(username='otto.sso').has_usable_password()))").strip().splitlines()[-1]
    )  # fmt: skip
    assert local is True


def test_a_sign_in_refused_at_the_provider_says_so(browser, sso_url):
    page = browser.new_page()
    page.goto(f"{sso_url}/accounts/login/?next=/definitions/")
    page.click("#sso-login")
    page.wait_for_url("**/oauth2/authorize**")
    page.click("button[name=action][value=deny]")
    page.wait_for_url("**/accounts/login/?sso=failed")
    assert "Single sign-on did not sign you in" in page.inner_text("#sso-failed")
    assert page.goto(f"{sso_url}/definitions/").url.startswith(f"{sso_url}/accounts/login/")
    page.close()
