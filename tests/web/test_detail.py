"""The backup page: progress, blocks pages, hooks, log, problems; resource list and downloads."""

import gzip
import json

import pytest

from backups.models import Backup, BackupLogEntry, BlockRun, HookRun, StorageLocation


@pytest.fixture
def finished(make_backup, tmp_path):
    location = StorageLocation.objects.create(name="here", path=str(tmp_path))
    backup = make_backup("done-1", phase=Backup.Phase.COMPLETED, storage_location=location, total_blocks=2)
    folder = tmp_path / "backups" / "done-1"
    folder.mkdir(parents=True)
    (folder / "done-1.tar.gz").write_bytes(b"tarball-bytes")
    listing = {"v1/Pod": ["shop/db-0", "shop/web-1"], "v1/Namespace": ["shop"], "v1/ConfigMap": ["pay/cfg"]}
    (folder / "done-1-resource-list.json.gz").write_bytes(gzip.compress(json.dumps(listing).encode()))
    BlockRun.objects.create(
        backup=backup,
        index=0,
        batch=0,
        item_count=3,
        first_item="pods shop/db-0",
        state="done",
        items_written=5,
        snapshot_objects=2,
    )
    BlockRun.objects.create(
        backup=backup, index=1, batch=0, item_count=1, first_item="configmaps pay/cfg", state="failed"
    )
    HookRun.objects.create(
        backup=backup,
        block_index=0,
        phase="pre",
        namespace="shop",
        pod="db-0",
        container="db",
        command=["/bin/sync"],
        exit_code=0,
        stdout="synced",
        started=1.0,
        duration=0.2,
    )
    BackupLogEntry.objects.create(backup=backup, level="error", message="boom", namespace="pay", time=2.0)
    BackupLogEntry.objects.create(backup=backup, level="warning", message="hmm", namespace="shop", time=3.0)
    return backup


def test_the_detail_page(client_as, finished):
    html = client_as("operator").get(f"/backups/{finished.pk}/").content.decode()
    for text in [
        'ws-connect="/ws/backups/',
        'id="block-0"',
        "badge state failed",
        "/bin/sync",
        "synced",
        "boom",
        "Browse the resource list",
        "Download tarball",
    ]:
        assert text in html, text
    assert "hx-swap-oob" not in html
    # the block's own items, then what it added (a VolumeSnapshot and its content), not "5 of 3"
    row = html.split('id="block-0"')[1].split("</tr>")[0]
    assert '<td class="num">3 <small class="added"' in row and "+ 2 snapshot objects" in row


def test_resource_list_is_browsable(client_as, finished):
    client = client_as("viewer")
    everything = client.get(f"/backups/{finished.pk}/resources/")
    assert everything.context["total"] == 4
    shop = client.get(f"/backups/{finished.pk}/resources/", {"namespace": "shop"})
    assert [e for _, e in shop.context["page"]] == ["shop/db-0", "shop/web-1"]
    cluster_scope = client.get(f"/backups/{finished.pk}/resources/", {"namespace": "-"})
    assert [e for _, e in cluster_scope.context["page"]] == ["shop"]
    pods = client.get(f"/backups/{finished.pk}/resources/", {"resource": "v1/Pod"})
    assert len(pods.context["page"]) == 2


def test_downloads_stream_from_the_store(client_as, finished):
    client = client_as("operator")
    response = client.get(f"/backups/{finished.pk}/download/tarball/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"tarball-bytes"
    assert 'filename="done-1.tar.gz"' in response["Content-Disposition"]
    assert client.get(f"/backups/{finished.pk}/download/logs/").status_code == 404
    assert client.get(f"/backups/{finished.pk}/download/etc-passwd/").status_code == 404


def test_blocks_are_paginated(client_as, make_backup):
    backup = make_backup("big", phase=Backup.Phase.IN_PROGRESS, total_blocks=250)
    BlockRun.objects.bulk_create(
        BlockRun(backup=backup, index=i, batch=0, item_count=1, first_item=f"x {i}") for i in range(250)
    )
    html = client_as("viewer").get(f"/backups/{backup.pk}/", {"page": 3}).content.decode()
    assert 'id="block-200"' in html and 'id="block-199"' not in html
    assert "?page=3" in html  # the socket sends this page's rows
