"""Who may see a backup's contents: the tarball holds every backed-up object (Secrets included) and
hook output can print anything, so both are for operators and admins, and for a viewer an admin
ticked *may download* for in Settings. Viewers keep the history, progress, logs, results and the
resource list. Checked on the page, on the partials htmx and the WebSocket send (`live_fragments`),
and for the download itself; tests/web/test_live_access.py checks a real socket's messages."""

import gzip
import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from backups.live.render import live_fragments
from backups.models import Backup, HookRun, StorageLocation
from backups.permissions import DOWNLOADER

HOOK_OUTPUT = "pg_dump: TOKEN=s3cr3t"
HOOK_ERRORS = "warning: password in argv"


@pytest.fixture
def finished(make_backup, tmp_path):
    location = StorageLocation.objects.create(name="here", path=str(tmp_path))
    backup = make_backup("done-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    folder = tmp_path / "backups" / "done-1"
    folder.mkdir(parents=True)
    (folder / "done-1.tar.gz").write_bytes(b"every Secret of the cluster")
    (folder / "done-1-logs.gz").write_bytes(gzip.compress(b"log lines"))
    (folder / "done-1-results.gz").write_bytes(gzip.compress(b"{}"))
    listing = {"v1/Secret": ["shop/db-password"]}
    (folder / "done-1-resource-list.json.gz").write_bytes(gzip.compress(json.dumps(listing).encode()))
    HookRun.objects.create(
        backup=backup, block_index=0, phase="pre", namespace="shop", pod="db-0", container="db",
        command=["/bin/dump"], exit_code=0, stdout=HOOK_OUTPUT, stderr=HOOK_ERRORS, started=1.0,
    )  # fmt: skip
    return backup


def downloads(client, backup) -> dict[str, int]:
    return {
        kind: client.get(f"/backups/{backup.pk}/download/{kind}/").status_code
        for kind in ("tarball", "logs", "results", "resource-list")
    }


def shown(html: str) -> dict[str, bool]:
    return {
        "hook": "/bin/dump" in html,
        "output": HOOK_OUTPUT in html or HOOK_ERRORS in html,
        "tarball link": "/download/tarball/" in html,
    }


def test_a_viewer_reads_everything_but_the_contents(client_as, finished):
    client = client_as("viewer")
    page = client.get(f"/backups/{finished.pk}/").content.decode()
    assert shown(page) == {"hook": True, "output": False, "tarball link": False}
    assert "output hidden: operators can read hook output" in page
    assert "operators can download the tarball" in page and 'aria-disabled="true"' in page
    assert downloads(client, finished) == {"tarball": 403, "logs": 200, "results": 200, "resource-list": 200}
    assert client.get(f"/backups/{finished.pk}/resources/").status_code == 200
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_get_the_contents(client_as, finished, role):
    client = client_as(role)
    page = client.get(f"/backups/{finished.pk}/").content.decode()
    assert shown(page) == {"hook": True, "output": True, "tarball link": True}
    assert downloads(client, finished) == {"tarball": 200, "logs": 200, "results": 200, "resource-list": 200}
    tarball = client.get(f"/backups/{finished.pk}/download/tarball/")
    assert b"".join(tarball.streaming_content) == b"every Secret of the cluster"


def test_the_live_partials_follow_the_same_rule(make_user, finished):
    """What htmx and the WebSocket swap in: rendered per user, from the same partials."""
    viewer, operator = make_user("viewer"), make_user("operator")
    as_viewer = "\n".join(live_fragments(finished.pk, viewer, 1))
    as_operator = "\n".join(live_fragments(finished.pk, operator, 1))
    assert 'id="hooks"' in as_viewer and 'id="done-panel"' in as_viewer
    assert shown(as_viewer) == {"hook": True, "output": False, "tarball link": False}
    assert shown(as_operator) == {"hook": True, "output": True, "tarball link": True}


def test_an_admin_lets_a_viewer_download_and_takes_it_back(client_as, make_user, finished):
    viewer = make_user("viewer", username="vic")
    admin = client_as("admin")
    settings_page = admin.get("/settings/").content.decode()
    assert f'form="role-form-{viewer.pk}"' in settings_page and "may download" in settings_page
    response = admin.post(f"/settings/users/{viewer.pk}/role/", {"role": "viewer", "downloader": "on"})
    assert response.status_code == 302
    assert set(viewer.groups.values_list("name", flat=True)) == {"viewer", DOWNLOADER}
    assert "vic is now viewer and may download" in admin.get("/settings/").content.decode()
    client = Client()
    client.force_login(viewer)
    assert shown(client.get(f"/backups/{finished.pk}/").content.decode())["output"]
    assert downloads(client, finished)["tarball"] == 200
    admin.post(f"/settings/users/{viewer.pk}/role/", {"role": "viewer"})
    assert list(viewer.groups.values_list("name", flat=True)) == ["viewer"]
    assert downloads(client, finished)["tarball"] == 403


def test_the_download_right_alone_gives_nothing(client, make_user, finished):
    """`downloader` widens a viewer's rights; without a role it opens no page."""
    user = make_user(None, username="nobody")
    user.groups.add(Group.objects.get_or_create(name=DOWNLOADER)[0])
    client.force_login(user)
    assert client.get(f"/backups/{finished.pk}/").status_code == 403
    assert downloads(client, finished)["tarball"] == 403
