"""The full log page's WebSocket over real uvicorn: on the last page it appends the lines
recorded after the page's last one (filtered as the page is), elsewhere it counts them; junk
parameters are ignored."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.web.test_live_socket import connect, errors_logged, server  # noqa: F401 - the fixture

SETUP = """
import json
from django.contrib.auth.models import Group, User
from django.contrib.sessions.backends.db import SessionStore
from backups.models import Backup, BackupLogEntry, Cluster
user = User.objects.create_user("log-viewer", password="viewer-Pass-42")
user.groups.add(Group.objects.get(name="viewer"))
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
cluster = Cluster.objects.create(name="log-cluster", kubeconfig_path="/nonexistent")
backup = Backup.objects.create(name="log-socket-1", cluster=cluster, phase="InProgress")
lines = BackupLogEntry.objects.bulk_create(
    BackupLogEntry(backup=backup, level="info" if i % 3 else "error", message=f"first-{i}", time=float(i))
    for i in range(10))
ids = list(BackupLogEntry.objects.filter(backup=backup).order_by("id").values_list("id", flat=True))
print(json.dumps({"session": session.session_key, "backup": backup.pk, "ids": ids}))
"""

MORE = """
from backups.live import progress
from backups.models import BackupLogEntry
BackupLogEntry.objects.create(backup_id={backup}, level="error", message="later-error", time=20.0)
BackupLogEntry.objects.create(backup_id={backup}, level="info", message="later-info", time=21.0)
progress.backup_changed({backup})
progress.flush()
"""


def shell(stack_env, code):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO, env=stack_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def logged(stack_env):
    return json.loads(shell(stack_env, SETUP).strip().splitlines()[-1])


def test_the_last_page_gets_the_lines_after_its_last_one_then_new_ones(server, logged, stack_env):  # noqa: F811
    after = logged["ids"][6]
    socket = connect(server, f"/ws/backups/{logged['backup']}/log/?after={after}&follow=1", logged["session"])
    try:
        assert 'id="log-phase" hx-swap-oob="true"' in socket.recv()
        rows = socket.recv()
        assert rows.startswith('<tbody id="log-lines" hx-swap-oob="beforeend">')
        assert [f"first-{i}" in rows for i in range(10)] == [False] * 7 + [True] * 3
        shell(stack_env, MORE.format(backup=logged["backup"]))
        while "later-info" not in (message := socket.recv()):
            pass
        assert "later-error" in message and "first-9" not in message  # only what is new
    finally:
        socket.close()
    assert errors_logged(server) == []


def test_the_socket_filters_as_the_page_does_and_elsewhere_only_counts(server, logged):  # noqa: F811
    socket = connect(
        server, f"/ws/backups/{logged['backup']}/log/?after=0&follow=1&level=error", logged["session"]
    )
    try:
        socket.recv()
        rows = socket.recv()
        assert "first-0" in rows and "first-3" in rows and "first-1" not in rows
    finally:
        socket.close()
    socket = connect(
        server, f"/ws/backups/{logged['backup']}/log/?after={logged['ids'][4]}&follow=0", logged["session"]
    )
    try:
        socket.recv()
        note = socket.recv()
        assert 'id="log-new"' in note and "new lines: go to the last page" in note and "page=last" in note
        assert "first-9" not in note
    finally:
        socket.close()


@pytest.mark.parametrize(
    "query", ["after=abc", "after=-5&follow=2", "after=99999999999999999999999", "level=%00&q=x"]
)
def test_junk_parameters_are_ignored(server, logged, query):  # noqa: F811
    socket = connect(server, f"/ws/backups/{logged['backup']}/log/?{query}", logged["session"])
    try:
        assert 'id="log-phase"' in socket.recv()
        socket.ping()
        assert socket.connected
    finally:
        socket.close()
    assert errors_logged(server) == []
