"""Preview: the RQ job writes the plan as JSON lines; pages read it back a page at a time."""

import pytest

from backups import preview
from backups.models import Cluster
from emulator import SAMPLE_CLUSTER, KubeEmulator

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


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emu:
        emu.kubeconfig = emu.write_kubeconfig(str(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        yield emu


@pytest.fixture
def planned(db, emulator, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="sample", kubeconfig_path=emulator.kubeconfig)
    token = preview.create_request(cluster, FIELDS, "nightly")
    preview.run_preview(token)
    return token


def test_the_job_writes_summary_blocks_and_hooks(planned):
    assert preview.read_status(planned) == {"state": "done"}
    summary = preview.read_summary(planned)
    assert summary["blocks"] > 10 and summary["items"] >= summary["blocks"]
    db_block = summary["largest"][0]
    assert db_block["first"] == "pods shop/db-0"
    block = preview.read_block(planned, db_block["index"])
    reasons = {reason for _, reason, _ in block["items"]}
    assert {"mounted volume", "bound volume", "volume group", "mounted by"} <= reasons
    assert {h["pod"] for h in block["hooks"]} >= {"shop/db-0"}
    assert all(h["command"] and h["container"] for h in block["hooks"])  # annotation hooks win over spec
    graph = preview.block_graph(block)
    assert len(graph["nodes"]) == len(block["items"])
    assert {e["data"]["label"] for e in graph["edges"]} == reasons - {""}


def test_pages_and_search(planned):
    summary = preview.read_summary(planned)
    blocks = preview.read_blocks(planned, 0, 5)
    assert [b["index"] for b in blocks] == [0, 1, 2, 3, 4]
    assert len(preview.read_blocks(planned, summary["blocks"] - 2, 5)) == 2
    found = preview.find_items(planned, "pvc-db-1")
    assert found and found[0]["block"] == summary["largest"][0]["index"]
    assert found[0]["reason"] == "bound volume"


def test_a_bad_token_is_not_found(db):
    with pytest.raises(preview.PreviewNotFound):
        preview.read_status("../../etc")


def test_the_preview_pages(planned, client_as):
    client = client_as("operator")
    html = client.get(f"/previews/{planned}/").content.decode()
    assert "Largest blocks" in html and "pods shop/db-0" in html
    index = preview.read_summary(planned)["largest"][0]["index"]
    found = client.get(f"/previews/{planned}/", {"q": "pvc-db-2"}).content.decode()
    assert f"/previews/{planned}/blocks/{index}/" in found
    page = client.get(f"/previews/{planned}/blocks/{index}/").content.decode()
    assert "vendor/cytoscape.min.js" in page and "block-graph-data" in page and "Hooks that will run" in page
    assert client_as("viewer").get(f"/previews/{planned}/").status_code == 403


def test_a_failed_preview_shows_the_error(db, settings, tmp_path, client_as):
    settings.DATA_DIR = tmp_path
    cluster = Cluster.objects.create(name="gone", kubeconfig_path=str(tmp_path / "missing"))
    token = preview.create_request(cluster, {}, "x")
    preview.run_preview(token)
    assert preview.read_status(token)["state"] == "failed"
    assert "The preview failed" in client_as("operator").get(f"/previews/{token}/").content.decode()
