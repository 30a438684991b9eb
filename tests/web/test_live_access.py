"""The backup page's WebSocket over real uvicorn, with a real WebSocket client (`websockets`) signed in
through the real login form: the socket is closed (4403) once the user's role is removed, and
(4401) once the session is logged out elsewhere, within VELOWEB_WS_RECHECK_SECONDS (shortened
here); hook output reaches only those allowed to see it. The consumer's per-message checks are
in tests/web/test_live.py."""

import json
import re
import subprocess
import sys
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import REPO
from veloweb.processes import free_port, spawn, stop, wait_for_http

RECHECK_SECONDS = 0.5
PASSWORD = "socket-Pass-42"
HOOK_OUTPUT = "db-dump: 42 tables flushed, TOKEN=s3cr3t"


def shell(env, code: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def server(stack_env, tmp_path_factory):
    """A uvicorn of this module's own: the same stack, the access re-check every 0.5 s."""
    log = tmp_path_factory.mktemp("uvicorn-access") / "uvicorn.log"
    port = free_port()
    env = {**stack_env, "VELOWEB_WS_RECHECK_SECONDS": str(RECHECK_SECONDS)}
    proc = spawn(
        [sys.executable, "-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1", "--port", port,
         "--lifespan", "off"],
        env=env, cwd=REPO, log=log,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/accounts/login/", proc, timeout=30, log=log)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def backup_id(stack_env):
    """A finished backup with one hook run that printed something."""
    out = shell(
        stack_env,
        "from backups.models import Backup, HookRun\n"
        "b = Backup.objects.create(name='socket-access-1', phase='Completed')\n"
        "HookRun.objects.create(backup=b, block_index=0, phase='pre', namespace='shop', pod='db-0',\n"
        f"    container='db', command=['/bin/dump'], exit_code=0, stdout={HOOK_OUTPUT!r}, started=1.0)\n"
        "print(b.pk)",
    )
    return int(out.split()[-1])


def make_user(env, username, role):
    shell(
        env,
        "from django.contrib.auth.models import Group, User\n"
        f"u = User.objects.create_user({username!r}, password={PASSWORD!r})\n"
        f"u.groups.add(Group.objects.get(name={role!r}))",
    )


def sign_in(server, username) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{server}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    data = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
    response = session.post(f"{server}/accounts/login/", data=data, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return session


def open_socket(server, session, backup_id):
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    return connect(
        f"ws://{server.removeprefix('http://')}/ws/backups/{backup_id}/",
        additional_headers={"Cookie": cookies},
        origin=server,
        open_timeout=10,
    )


def snapshot(socket) -> str:
    """The messages sent on connect (summary with hooks, then rows if any)."""
    messages = [socket.recv(timeout=10)]
    try:
        while True:
            messages.append(socket.recv(timeout=0.5))
    except TimeoutError:
        return "\n".join(messages)


def closed_within(socket, seconds) -> tuple[int, float]:
    """(close code, seconds until closed), reading whatever else arrives meanwhile."""
    start = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() - start < seconds:
            socket.recv(timeout=seconds)
    return closed.value.rcvd.code, time.monotonic() - start


def test_hook_output_reaches_operators_not_viewers(server, stack_env, backup_id):
    make_user(stack_env, "sock-viewer", "viewer")
    make_user(stack_env, "sock-operator", "operator")
    with open_socket(server, sign_in(server, "sock-viewer"), backup_id) as socket:
        seen = snapshot(socket)
        assert 'id="hooks"' in seen and "/bin/dump" in seen
        assert HOOK_OUTPUT not in seen and "output hidden" in seen
        assert "operators can download the tarball" in seen and "/download/tarball/" not in seen
    with open_socket(server, sign_in(server, "sock-operator"), backup_id) as socket:
        seen = snapshot(socket)
        assert HOOK_OUTPUT in seen and f"/backups/{backup_id}/download/tarball/" in seen


def test_the_socket_closes_when_the_role_is_removed(server, stack_env, backup_id):
    make_user(stack_env, "sock-demoted", "viewer")
    with open_socket(server, sign_in(server, "sock-demoted"), backup_id) as socket:
        snapshot(socket)
        time.sleep(2 * RECHECK_SECONDS)
        socket.ping().wait(5)  # still open after a few re-checks
        shell(
            stack_env,
            "from django.contrib.auth.models import User\n"
            "User.objects.get(username='sock-demoted').groups.clear()",
        )
        code, after = closed_within(socket, 10)
    assert code == 4403
    assert after < RECHECK_SECONDS + 2, after


def test_the_socket_closes_when_the_session_logs_out_elsewhere(server, stack_env, backup_id):
    make_user(stack_env, "sock-leaver", "viewer")
    session = sign_in(server, "sock-leaver")
    with open_socket(server, session, backup_id) as socket:
        snapshot(socket)
        # another tab of the same browser signs out (POST /accounts/logout/ with the same cookie)
        other_tab = requests.Session()
        other_tab.cookies.update(session.cookies)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', other_tab.get(f"{server}/", timeout=10).text).group(1)
        logout = other_tab.post(f"{server}/accounts/logout/", headers={"X-CSRFToken": token}, timeout=10)
        assert logout.status_code in (200, 302)
        code, after = closed_within(socket, 10)
    assert code == 4401
    assert after < RECHECK_SECONDS + 2, after


def test_a_signed_out_socket_is_told_why(server, backup_id):
    """No session: accepted, then closed with 4401 (a refused handshake would read 1006, on which
    htmx's ws extension reconnects forever)."""
    with connect(f"ws://{server.removeprefix('http://')}/ws/backups/{backup_id}/", origin=server) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


def test_settings_module_reads_the_interval(stack_env):
    out = shell(
        {**stack_env, "VELOWEB_WS_RECHECK_SECONDS": "7.5"},
        "import json\nfrom django.conf import settings\n"
        "print(json.dumps(settings.VELOWEB_WS_RECHECK_SECONDS))",
    )
    assert json.loads(out.split()[-1]) == 7.5
