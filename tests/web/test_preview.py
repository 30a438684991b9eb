"""Preview: the RQ job writes the plan as JSON lines; pages read it back a page at a time."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from backups.models import Cluster
from backups.services import previews

HOOKS = {
    "resources": [
        {
            "name": "db",
            "includedNamespaces": ["shop"],
            "labelSelector": {"matchLabels": {"app": "db"}},
            "pre": [{"exec": {"command": ["/bin/sync"], "onError": "Fail"}}],
        }
    ]
}
FIELDS = {"included_namespaces": [], "hooks": HOOKS}


@pytest.fixture
def planned(db, emulator, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="sample", kubeconfig_path=emulator.kubeconfig)
    token = previews.create_request(cluster, FIELDS, "nightly")
    previews.run_preview(token)
    return token


def test_the_job_writes_summary_blocks_and_hooks(planned):
    assert previews.read_status(planned) == {"state": "done"}
    summary = previews.read_summary(planned)
    assert summary["blocks"] > 10 and summary["items"] >= summary["blocks"]
    db_block = summary["largest"][0]
    assert db_block["first"] == "pods shop/db-0"
    block = previews.read_block(planned, db_block["index"])
    reasons = {reason for _, reason, _ in block["items"]}
    assert {"mounted volume", "bound volume", "volume group", "mounted by"} <= reasons
    assert {h["pod"] for h in block["hooks"]} >= {"shop/db-0"}
    assert all(h["command"] and h["container"] for h in block["hooks"])  # annotation hooks win over spec
    graph = previews.block_graph(block)
    assert len(graph["nodes"]) == len(block["items"])
    assert {e["data"]["label"] for e in graph["edges"]} == reasons - {""}


def test_pages_and_search(planned):
    summary = previews.read_summary(planned)
    blocks = previews.read_blocks(planned, 0, 5)
    assert [b["index"] for b in blocks] == [0, 1, 2, 3, 4]
    assert len(previews.read_blocks(planned, summary["blocks"] - 2, 5)) == 2
    found = previews.find_items(planned, "pvc-db-1")
    assert found and found[0]["block"] == summary["largest"][0]["index"]
    assert found[0]["reason"] == "bound volume"


def test_a_bad_token_is_not_found(db):
    with pytest.raises(previews.PreviewNotFound):
        previews.read_status("../../etc")


def test_the_preview_pages(planned, client_as):
    client = client_as("operator")
    html = client.get(f"/previews/{planned}/").content.decode()
    assert "Largest blocks" in html and "pods shop/db-0" in html
    index = previews.read_summary(planned)["largest"][0]["index"]
    found = client.get(f"/previews/{planned}/", {"q": "pvc-db-2"}).content.decode()
    assert f"/previews/{planned}/blocks/{index}/" in found
    page = client.get(f"/previews/{planned}/blocks/{index}/").content.decode()
    assert "vendor/cytoscape.min.js" in page and "block-graph-data" in page and "Hooks that will run" in page
    assert client_as("viewer").get(f"/previews/{planned}/").status_code == 403


def test_a_failed_preview_shows_the_error(db, settings, tmp_path, client_as):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="gone", kubeconfig_path=str(tmp_path / "missing"))
    token = previews.create_request(cluster, {}, "x")
    previews.run_preview(token)
    assert previews.read_status(token)["state"] == "failed"
    assert "The preview failed" in client_as("operator").get(f"/previews/{token}/").content.decode()


# --- expiry: previews are removed after VELOWEB_PREVIEW_TTL, and their pages say so ------------------

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def aged(cluster, hours: float, state: str = "done") -> str:
    """A preview asked for `hours` before NOW, in `state`."""
    token = previews.create_request(cluster, {}, "aged")
    folder = previews.folder(token)
    request = json.loads((folder / "request.json").read_text())
    request["created"] = (NOW - timedelta(hours=hours)).isoformat()
    (folder / "request.json").write_text(json.dumps(request))
    (folder / "status.json").write_text(json.dumps({"state": state}))
    return token


def test_previews_older_than_the_ttl_are_removed_and_running_ones_only_when_long_stale(
    db, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    settings.VELOWEB_PREVIEW_TTL = 24 * 3600
    cluster = Cluster.objects.create(name="c", kubeconfig_path="/nonexistent")
    fresh_done = aged(cluster, 23)
    old_done = aged(cluster, 25)
    old_failed = aged(cluster, 25, "failed")
    running_two_days = aged(cluster, 48, "running")
    queued_two_days = aged(cluster, 48, "queued")
    running_long_dead = aged(cluster, 24 * 7 + 1, "running")
    unreadable = aged(cluster, 1)
    (previews.folder(unreadable) / "request.json").write_text("{not json")
    stamp = (NOW - timedelta(days=2)).timestamp()
    os.utime(previews.folder(unreadable), (stamp, stamp))  # its folder's time stands in for `created`
    stranger = tmp_path / "previews" / "not-a-preview"
    stranger.mkdir()

    result = previews.expire_previews(now=NOW)

    assert sorted(result["removed"]) == sorted([old_done, old_failed, running_long_dead, unreadable])
    assert result["kept"] == 3
    left = {p.name for p in (tmp_path / "previews").iterdir()}
    assert left == {fresh_done, running_two_days, queued_two_days, "not-a-preview"}


def test_preview_expiry_is_one_of_the_periodic_jobs_of_run_cron(settings):
    import django_rq

    from backups.periodic_jobs import build_scheduler

    settings.VELOWEB_GC_INTERVAL = 1800
    jobs = {job.name: job for job in build_scheduler(django_rq.get_connection("default"))._cron_jobs}
    assert jobs["veloweb-preview-expiry"].func is previews.expire_previews
    assert jobs["veloweb-preview-expiry"].interval == 1800


def test_an_expired_preview_says_so_on_its_pages(db, settings, tmp_path, client_as):
    settings.DATA_DIR = tmp_path
    settings.VELOWEB_PREVIEW_TTL = 24 * 3600
    cluster = Cluster.objects.create(name="c", kubeconfig_path="/nonexistent")
    token = aged(cluster, 25)
    assert previews.expire_previews(now=NOW)["removed"] == [token]
    client = client_as("operator")
    for response in (
        client.get(f"/previews/{token}/"),
        client.get(f"/previews/{token}/blocks/0/"),
        client.post(f"/previews/{token}/backup/"),
    ):
        assert response.status_code == 404
        html = response.content.decode()
        assert 'id="preview-gone"' in html and "kept for 24h0m0s" in html and "VELOWEB_PREVIEW_TTL" in html
    polled = client.get(f"/previews/{token}/", HTTP_HX_REQUEST="true")  # the page polling as it goes
    body = polled.content.decode()
    assert polled.status_code == 200 and body.lstrip().startswith('<div id="preview-body">')
    assert 'id="preview-gone"' in body


def test_a_preview_removed_while_its_page_reads_it_says_so(db, settings, tmp_path, client_as):
    """The expiry job can remove a preview between two reads of its page: a 500 before."""
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="c", kubeconfig_path="/nonexistent")
    token = aged(cluster, 1)  # done, but its summary and blocks are already gone
    client = client_as("operator")
    client.raise_request_exception = False
    response = client.get(f"/previews/{token}/")
    assert response.status_code == 404 and 'id="preview-gone"' in response.content.decode()
    block = client.get(f"/previews/{token}/blocks/0/")
    assert block.status_code == 404 and 'id="preview-gone"' in block.content.decode()


def test_a_block_page_lists_its_items_why_they_joined_and_its_hooks(planned, client_as):
    """The database block: its three pods, their claims and volumes, each with the relation that
    brought it in, and the hooks that will run in its pods (once shown empty: the view and the
    template disagreed on a name)."""
    index = previews.read_summary(planned)["largest"][0]["index"]
    page = client_as("operator").get(f"/previews/{planned}/blocks/{index}/").content.decode()
    assert f"<h1>Block {index} <small>10 items + 6 snapshot objects at run time</small></h1>" in page
    items = page.split('<ol class="items"')[1].split("</ol>")[0]
    for key in ("pods shop/db-0", "persistentvolumeclaims shop/data-db-0", "persistentvolumes pvc-db-0"):
        assert key in items
    assert "bound volume" in items and "mounted by" in items
    hooks = page.split('id="block-hooks"')[1].split("</section>")[0]
    assert "No hook" not in hooks
    # the pods' own annotations win over the spec hook (Velero's rule): freeze before, thaw after
    assert hooks.count("<li>") == 6 and hooks.count(">pre<") == 3 and hooks.count(">post<") == 3
    assert "fsfreeze --freeze /var/lib/postgresql" in hooks and "from &lt;from-annotation&gt;" in hooks
    assert "shop/db-0" in hooks and "shop/db-2" in hooks


def test_unknown_resource_names_are_warnings_in_the_preview_and_match_nothing(
    db, emulator, settings, tmp_path
):
    """As Velero: kept as given, in the backup's filters and in a hook's, matching nothing."""
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="sample", kubeconfig_path=emulator.kubeconfig)
    hooks = {
        "resources": [{"name": "typo", "includedResources": ["podz"], "pre": [{"exec": {"command": ["x"]}}]}]
    }
    fields = {"included_resources": ["pods", "gizmos"], "hooks": hooks}
    token = previews.create_request(cluster, fields, "nightly")
    previews.run_preview(token)
    assert previews.read_status(token) == {"state": "done"}
    summary = previews.read_summary(token)
    assert [m.split(":")[0] + ":" + m.split(":")[1] for m in summary["messages"] if "unknown" in m] == [
        "warning: unknown resource 'gizmos' in included resources",
        "warning: unknown resource 'podz' in hook 'typo' includedResources",
    ]
    blocks = previews.read_blocks(token, 0, summary["blocks"])
    assert summary["items"] > 0 and not [h for b in blocks for h in b["hooks"] if h["source"] == "typo"]


def test_the_dry_run_counts_each_type_and_what_the_run_adds(planned, client_as):
    """The plan's items per type add up to its items; the database block's three claims are
    snapshotted (a VolumeSnapshot and its content each: 6 objects), the class is written once;
    a backup of every namespace lists the CRDs itself, so none is added at the end."""
    summary = previews.read_summary(planned)
    run = summary["dry_run"]
    assert sum(count for _, count in run["types"]) == summary["items"]
    assert run["types"] == sorted(run["types"], key=lambda t: (-t[1], t[0]))
    db = previews.read_block(planned, summary["largest"][0]["index"])
    assert db["adds"] == 6
    assert (
        run["snapshotted"] == sum(b["adds"] for b in previews.read_blocks(planned, 0, summary["blocks"])) // 2
    )
    assert run["snapshot_classes"] == ["csi-hostpath-snapclass"] and run["crds"] == []
    assert run["total"] == summary["items"] + 2 * run["snapshotted"] + 1
    page = client_as("operator").get(f"/previews/{planned}/").content.decode()
    added = page.split('id="preview-added"')[1].split("</section>")[0]
    assert f"{run['snapshotted']} VolumeSnapshots and {run['snapshotted']} VolumeSnapshotContents" in added
    assert f"{summary['items']} items + {run['added']} added = {run['total']}" in added
    row = page.split(f'id="preview-block-{db["index"]}"')[1].split("</tr>")[0]
    assert '10 <small class="added">+ 6 snapshot objects</small>' in row
    types = page.split('id="preview-types"')[1].split("</section>")[0]
    assert '<td class="key">pods</td>' in types


def test_a_namespace_preview_adds_the_crds_of_its_custom_resources_and_says_why_items_are_excluded(
    db, emulator, settings, tmp_path, client_as
):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="sample", kubeconfig_path=emulator.kubeconfig)
    fields = {"included_namespaces": ["shop"], "label_selector": "app.kubernetes.io/name!=web"}
    token = previews.create_request(cluster, fields, "nightly")
    previews.run_preview(token)
    summary = previews.read_summary(token)
    assert summary["dry_run"]["crds"] == ["widgets.example.com"]
    reasons = dict(summary["excluded_reasons"])
    assert reasons["does not match the label selector app.kubernetes.io/name!=web"] > 0
    assert sum(reasons.values()) == summary["excluded"]
    skipped = dict(summary["skipped_types"])
    assert skipped["volumesnapshots.snapshot.storage.k8s.io"].endswith("(auto-excluded type)")
    assert skipped["persistentvolumes"].startswith("cluster-scoped")
    items = previews.read_excluded(token, 0, 1000)
    assert len(items) == summary["excluded"]
    assert {"key", "reason", "position"} == set(items[0])
    web = [i for i in items if i["key"].startswith("pods shop/web-")]
    assert web and all(i["reason"].startswith("does not match the label selector") for i in web)
    assert previews.read_excluded(token, 1, 2) == items[1:3]
    page = client_as("operator").get(f"/previews/{token}/excluded/").content.decode()
    assert 'id="excluded-items"' in page and web[0]["key"] in page
    assert "(auto-excluded type)" in page.split('id="skipped-types"')[1]


def test_the_excluded_items_are_paginated(db, emulator, settings, tmp_path, client_as, monkeypatch):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="sample", kubeconfig_path=emulator.kubeconfig)
    token = previews.create_request(cluster, {"excluded_namespaces": ["shop"]}, "nightly")
    previews.run_preview(token)
    total = previews.read_summary(token)["excluded"]
    assert total > 3
    from backups.views import preview_pages

    monkeypatch.setattr(preview_pages, "EXCLUDED_PER_PAGE", 2)
    client = client_as("operator")
    second = client.get(f"/previews/{token}/excluded/?page=2").content.decode()
    expected = previews.read_excluded(token, 2, 2)
    assert all(item["key"] in second for item in expected)
    assert previews.read_excluded(token, 0, 1)[0]["key"] not in second
    assert "namespace shop is in excluded namespaces" in second
