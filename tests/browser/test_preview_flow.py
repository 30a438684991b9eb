"""An operator previews a backup of the sample cluster in headless Chromium and opens the database
block: its ten items, each with the relation that brought it into the block and the item it came
from, the six hooks that will run in its pods, the graph drawn with one node per item, and what the
block adds at run time; then the excluded items with why."""

import json

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")

# the database block: (item, why it joined, the item it joined from)
DB_BLOCK = [
    ("pods shop/db-0", "", None),
    ("priorityclasses.scheduling.k8s.io high-priority", "priority class", "pods shop/db-0"),
    ("persistentvolumeclaims shop/data-db-0", "mounted volume", "pods shop/db-0"),
    ("persistentvolumes pvc-db-0", "bound volume", "persistentvolumeclaims shop/data-db-0"),
    ("persistentvolumeclaims shop/data-db-1", "volume group", "persistentvolumeclaims shop/data-db-0"),
    ("persistentvolumes pvc-db-1", "bound volume", "persistentvolumeclaims shop/data-db-1"),
    ("pods shop/db-1", "mounted by", "persistentvolumeclaims shop/data-db-1"),
    ("persistentvolumeclaims shop/data-db-2", "volume group", "persistentvolumeclaims shop/data-db-1"),
    ("persistentvolumes pvc-db-2", "bound volume", "persistentvolumeclaims shop/data-db-2"),
    ("pods shop/db-2", "mounted by", "persistentvolumeclaims shop/data-db-2"),
]


def test_the_preview_s_database_block_shows_its_items_why_they_joined_and_its_hooks(page):
    page.goto("/backups/new/")
    page.select_option("#id_cluster", label="sample")
    page.fill("#id_included_namespaces", "shop")
    page.click("#preview-button")
    page.wait_for_selector("#preview-summary", timeout=30_000)
    preview_url = page.url
    row = page.locator("table.blocks tr", has_text="pods shop/db-0")
    assert "+ 6 snapshot objects" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_selector("#block-graph[data-ready]", timeout=15_000)

    assert page.locator("h1").inner_text().endswith("10 items + 6 snapshot objects at run time")
    items = page.locator("ol.items > li").all_inner_texts()
    keys = [key for key, _, _ in DB_BLOCK]
    assert len(items) == len(DB_BLOCK)
    for text, (key, reason, parent) in zip(items, DB_BLOCK, strict=True):
        if parent is None:
            assert text == key
        else:
            assert text == f"{key} — {reason} (from #{keys.index(parent)})"

    # the graph: one node per item, one edge per joined item labelled with the relation
    assert page.get_attribute("#block-graph", "data-ready") == str(len(DB_BLOCK))
    graph = json.loads(page.locator("#block-graph-data").text_content())
    labels = {n["data"]["id"]: n["data"]["label"].replace("\n", " ") for n in graph["nodes"]}
    edges = {
        (labels[e["data"]["source"]], labels[e["data"]["target"]], e["data"]["label"]) for e in graph["edges"]
    }
    assert edges == {(parent, key, reason) for key, reason, parent in DB_BLOCK if parent}

    hooks = page.locator("#block-hooks li").all_inner_texts()
    assert len(hooks) == 6
    for pod in ("shop/db-0", "shop/db-1", "shop/db-2"):
        mine = [h for h in hooks if pod in h]
        assert [h.split()[0] for h in mine] == ["pre", "post"]
        assert "fsfreeze --freeze /var/lib/postgresql" in mine[0] and "postgres" in mine[0]
        assert "fsfreeze --unfreeze /var/lib/postgresql" in mine[1]
    screenshot(page, "preview-db-block")

    page.goto(preview_url)
    page.wait_for_selector("#preview-summary")
    page.click("#preview-excluded")
    page.wait_for_selector("#excluded-items")
    excluded = page.locator("#excluded-items tbody tr").all_inner_texts()
    assert any("pods shop/debug-shell" in r and "velero.io/exclude-from-backup=true" in r for r in excluded)
    screenshot(page, "preview-excluded")
    assert page.problems == [], page.problems
