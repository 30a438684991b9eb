"""Production security settings: the headers every response carries, what VELOWEB_HTTPS and the
HSTS variables switch on, and `manage.py check --deploy` clean for a deployment behind TLS. Plain
http on 127.0.0.1 (`make run`) keeps working: nothing of this redirects or needs TLS by default.
That every page runs under the Content-Security-Policy without a violation is checked in Chromium
(tests/browser/test_content_security_policy.py)."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import REPO

DEPLOY = {"VELOWEB_HTTPS": "1", "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50)}


def manage(tmp_path, env, *args):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VELOWEB_HSTS", "VELOWEB_HTTPS"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO, env={**clean, "VELOWEB_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"VELOWEB_HSTS_SECONDS": "31536000"},
        {
            "VELOWEB_HSTS_SECONDS": "63072000",
            "VELOWEB_HSTS_INCLUDE_SUBDOMAINS": "1",
            "VELOWEB_HSTS_PRELOAD": "1",
        },
        {"VELOWEB_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
    ],
)
def test_check_deploy_is_clean_behind_tls(tmp_path, extra):
    result = manage(tmp_path, {**DEPLOY, **extra}, "check", "--deploy")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "System check identified no issues" in output and "WARNING" not in output, output


def test_check_deploy_names_what_is_missing_without_tls(tmp_path):
    result = manage(tmp_path, {**DEPLOY, "VELOWEB_HTTPS": "0"}, "check", "--deploy")
    for check in ("security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr


def test_veloweb_https_switches_on_secure_cookies_redirect_and_hsts(tmp_path):
    code = (
        "import json\nfrom django.conf import settings as s\n"
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER]))"
    )
    env = {**DEPLOY, "VELOWEB_HSTS_SECONDS": "600", "VELOWEB_PROXY_SSL_HEADER": "X-Forwarded-Proto"}
    on = manage(tmp_path, env, "shell", "--no-imports", "-c", code)
    assert json.loads(on.stdout) == [True, True, True, 600, ["HTTP_X_FORWARDED_PROTO", "https"]], on.stderr
    off = manage(tmp_path, {"VELOWEB_HSTS_SECONDS": "600"}, "shell", "--no-imports", "-c", code)
    assert json.loads(off.stdout) == [False, False, False, 0, None], off.stderr  # HSTS needs TLS


def test_every_response_carries_the_security_headers(client_as):
    response = client_as("viewer").get("/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = response["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
    ):
        assert directive in policy
    assert "unsafe" not in policy
    assert "Secure" not in str(response.cookies.get("csrftoken", ""))  # plain http by default


def test_behind_tls_http_is_redirected_and_cookies_are_secure(client, make_user, settings):
    settings.SECURE_SSL_REDIRECT = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 600
    plain = client.get("/accounts/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/accounts/login/"
    make_user("viewer", username="tls")
    proxied = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = client.get("/accounts/login/", **proxied)
    assert page.status_code == 200 and page["Strict-Transport-Security"] == "max-age=600"
    signed_in = client.post("/accounts/login/", {"username": "tls", "password": "pw-Secret-123"}, **proxied)
    assert signed_in.status_code == 302
    assert signed_in.cookies["sessionid"]["secure"] and signed_in.cookies["sessionid"]["httponly"]
