"""Login throttling (django-axes): after VELOWEB_LOGIN_FAILURE_LIMIT failures for one username from
one address, that pair is locked out for VELOWEB_LOGIN_COOLOFF_MINUTES, and the sign-in page says
for how long and what to do. `manage.py axes_reset` lifts it. Checked through Django's test client
and through real uvicorn (axes' async middleware path)."""

import os
import re
import subprocess
import sys

import pytest
import requests
from django.core.management import call_command

from tests.conftest import REPO

LOCKED = "Too many failed sign-ins for this username from your address"


def sign_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_five_failures_lock_the_username_out_from_that_address(client, make_user):
    make_user("viewer", username="vera")
    for _ in range(4):
        response = sign_in(client, "vera", "wrong")
        assert response.status_code == 200 and b"didn't match" in response.content
    locked = sign_in(client, "vera", "wrong")  # the fifth
    assert locked.status_code == 429
    page = locked.content.decode()
    assert LOCKED in page and "locked for 15 minutes" in page and "manage.py axes_reset" in page
    assert 'id="id_username"' in page and 'value="vera"' in page  # still the sign-in page
    # the right password does not get in while locked; another username from here still can
    assert sign_in(client, "vera", "pw-Secret-123").status_code == 429
    assert "_auth_user_id" not in client.session
    make_user("operator", username="otto")
    assert sign_in(client, "otto", "pw-Secret-123").status_code == 302


def test_axes_reset_lifts_the_lock_out(client, make_user):
    make_user("viewer", username="vera")
    for _ in range(5):
        sign_in(client, "vera", "wrong")
    assert sign_in(client, "vera", "pw-Secret-123").status_code == 429
    call_command("axes_reset")
    assert sign_in(client, "vera", "pw-Secret-123").status_code == 302


def test_a_success_forgets_the_earlier_failures(client, make_user):
    make_user("viewer", username="vera")
    for _ in range(4):
        sign_in(client, "vera", "wrong")
    assert sign_in(client, "vera", "pw-Secret-123").status_code == 302
    client.logout()
    for _ in range(4):
        assert sign_in(client, "vera", "wrong").status_code == 200


def test_the_lock_out_through_uvicorn(live_server_url, stack_env):
    """uvicorn runs Django's middleware asynchronously, a path of its own in django-axes."""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.contrib.auth.models import User\n"
         "User.objects.create_user('throttled', password='pw-Secret-123')"],
        cwd=REPO, env=stack_env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    session = requests.Session()

    def attempt(password):
        page = session.get(f"{live_server_url}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        data = {"username": "throttled", "password": password, "csrfmiddlewaretoken": token}
        return session.post(
            f"{live_server_url}/accounts/login/", data=data, allow_redirects=False, timeout=10
        )

    assert [attempt("wrong").status_code for _ in range(4)] == [200] * 4
    locked = attempt("wrong")
    assert locked.status_code == 429 and LOCKED in locked.text and "15 minutes" in locked.text
    assert attempt("pw-Secret-123").status_code == 429
    subprocess.run(
        [sys.executable, "manage.py", "axes_reset_username", "throttled"],
        cwd=REPO, env=stack_env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert attempt("pw-Secret-123").status_code == 302


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, "True 5 0:15:00"),
        ({"VELOWEB_LOGIN_FAILURE_LIMIT": "10", "VELOWEB_LOGIN_COOLOFF_MINUTES": "60"}, "True 10 1:00:00"),
        ({"VELOWEB_LOGIN_THROTTLING": "0"}, "False 5 0:15:00"),
    ],
)
def test_throttling_is_configured_from_the_environment(tmp_path, env, expected):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from django.conf import settings as s\n"
         "print(s.AXES_ENABLED, s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME)"],
        cwd=REPO, env={**os.environ, "VELOWEB_DATA_DIR": str(tmp_path), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.stdout.strip() == expected, result.stderr
