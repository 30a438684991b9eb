"""The backup page's WebSocket over real uvicorn and a real WebSocket client: a junk or huge
`?page=` is clamped (it raised in the consumer), and a path no route serves is closed with 4404
(Channels' URLRouter raised, so uvicorn logged an error and answered 500)."""

import json
import struct
import subprocess
import sys

import pytest
import websocket

from tests.conftest import REPO
from veloweb.processes import free_port, spawn, stop, wait_for_http

SETUP = """
import json
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from backups.models import Backup, BlockRun, Cluster
user = User.objects.create_user("socket-viewer", password="viewer-Pass-42")
user.groups.add(Group.objects.get(name="viewer"))
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
cluster = Cluster.objects.create(name="socket-cluster", kubeconfig_path="/nonexistent")
backup = Backup.objects.create(name="socket-1", cluster=cluster, phase="InProgress", total_blocks=250)
BlockRun.objects.bulk_create(BlockRun(backup=backup, index=i, batch=i // 10, item_count=2,
                                      first_item=f"pods ns/p{i}") for i in range(250))
print(json.dumps({"session": session.session_key, "backup": backup.pk}))
"""


@pytest.fixture(scope="module")
def server(stack_env, tmp_path_factory):
    """uvicorn serving veloweb.asgi, with its log where the test can read it."""
    log = tmp_path_factory.mktemp("uvicorn-socket") / "uvicorn.log"
    port = free_port()
    proc = spawn(
        [sys.executable, "-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1", "--port", port,
         "--lifespan", "off"],
        env=stack_env,
        cwd=REPO,
        log=log,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/", proc, timeout=30, log=log)
        yield url, log
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def viewer(stack_env):
    """A signed-in viewer's session key and a running backup of 250 blocks, in the stack's database."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SETUP],
        cwd=REPO, env=stack_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def connect(server, path, session=None):
    url, _ = server
    cookie = f"sessionid={session}" if session else None
    return websocket.create_connection(f"ws{url[4:]}{path}", cookie=cookie, origin=url, timeout=10)


def close_code(socket) -> int:
    """The code of the close frame the server sends next."""
    opcode, data = socket.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE, (opcode, data[:200])
    return struct.unpack("!H", data[:2])[0]


def errors_logged(server) -> list[str]:
    _, log = server
    return [line for line in log.read_text().splitlines() if "ERROR" in line or "Traceback" in line]


@pytest.mark.parametrize(
    ("page", "first_row"),
    [("1e30", "pods ns/p0"), ("abc", "pods ns/p0"), ("-1", "pods ns/p0"), ("%D9%A3", "pods ns/p0"),
     ("99999999999999999999", None), ("3", "pods ns/p200")],
)
def test_a_junk_or_huge_page_is_clamped_and_the_socket_serves_it(server, viewer, page, first_row):
    socket = connect(server, f"/ws/backups/{viewer['backup']}/?page={page}", viewer["session"])
    try:
        summary = socket.recv()
        assert 'hx-swap-oob="true"' in summary and "socket-1" in summary
        if first_row:
            rows = socket.recv()
            assert rows.startswith('<tbody id="blocks-body"') and first_row in rows
        socket.ping()
        assert socket.connected
    finally:
        socket.close()
    assert errors_logged(server) == []


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/backups/abc/", "/ws/backups/99999999999999999999/", "/"])
def test_a_path_no_route_serves_is_closed_with_4404_and_logs_no_error(server, viewer, path):
    for session in (viewer["session"], None):
        socket = connect(server, path, session)
        try:
            assert close_code(socket) == 4404
        finally:
            socket.close()
    assert errors_logged(server) == []
