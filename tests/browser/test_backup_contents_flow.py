"""Inside backups in Chromium, on two real backups of the sample cluster's shop namespace taken by
the workers with a change between them: browse and search the items, open one as JSON and YAML,
find the backups holding it, diff the two backups and the item against the live cluster."""

import copy

import pytest

from tests.browser.conftest import backup_state, manage, screenshot

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")
FLAGS = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "feature-flags", "namespace": "shop"},
    "data": {"checkout-v2": "on"},
}


def back_up(env, name: str) -> int:
    manage(
        env, "backup", "create", name, "--cluster", "sample", "--include-namespaces", "shop",
        "--snapshot-volumes", "false", "--wait", "--timeout", "180", timeout=240,
    )  # fmt: skip
    state = backup_state(env, name)
    assert state["phase"] == "Completed", state
    return state["id"]


@pytest.fixture(scope="module")
def two_backups(stack_env, sample_emulator):
    """Backup 1, then web-config edited and feature-flags added, then backup 2; the cluster is put
    back afterwards (other tests share it)."""
    original = copy.deepcopy(sample_emulator.get("configmaps", "shop", "web-config"))
    first = back_up(stack_env, "inside-1")
    try:
        edited = copy.deepcopy(original)
        edited["data"] = {**edited["data"], "replicas-hint": "3"}
        sample_emulator.add(edited)
        sample_emulator.add(copy.deepcopy(FLAGS))
        second = back_up(stack_env, "inside-2")
    finally:
        sample_emulator.add(original)
        sample_emulator.delete("configmaps", "shop", "feature-flags")
    return first, second


def test_browse_search_and_open_one_item(page, two_backups):
    _, second = two_backups
    page.goto(f"/backups/{second}/")
    page.click("#describe summary")  # velero backup describe's content, folded until asked
    assert page.locator("#describe dd").first.is_visible()
    assert "shop" in page.locator("#describe").inner_text()
    screenshot(page, "inside-describe")
    page.click("#items-link")
    page.wait_for_selector("#items tbody tr")
    total = int(page.locator("#items-found").inner_text().split()[0])
    assert total > 10
    page.click(".facets a:text-is('configmaps')")
    page.wait_for_url("**resource=configmaps**")
    names = page.locator("#items tbody td.key a").all_inner_texts()
    assert "web-config" in names and "feature-flags" in names and "db-config" in names
    page.fill("#items-q", "flags")  # searched as one types, the table swapped by htmx
    page.wait_for_function("() => document.querySelectorAll('#items tbody td.key a').length === 1")
    assert page.locator("#items tbody td.key a").inner_text() == "feature-flags"
    assert page.locator("#items-found").inner_text().startswith("1 item")
    assert "q=flags" in page.url  # the search is in the address, so Back and reload keep it
    screenshot(page, "inside-items-search")

    page.fill("#items-q", "web-config")
    page.wait_for_selector("#items tbody td.key a:text-is('web-config')")
    page.click("#items tbody td.key a:text-is('web-config')")
    page.wait_for_selector("#item-text")
    text = page.locator("#item-text").inner_text()
    assert '"replicas-hint": "3"' in text and '"kind": "ConfigMap"' in text
    screenshot(page, "inside-item-json")
    page.click("nav.tabs a:text-is('YAML')")
    page.wait_for_url("**format=yaml**")
    assert "replicas-hint: '3'" in page.locator("#item-text").inner_text()
    screenshot(page, "inside-item-yaml")

    page.click("#live-diff")  # the cluster was put back: the edit shows as removed since
    page.wait_for_selector("#live-changes")
    assert "data.replicas-hint" in page.locator("#live-changes").inner_text()
    screenshot(page, "inside-item-live")
    assert page.problems == []


def test_which_backups_hold_an_item(page, two_backups):
    first, second = two_backups
    page.goto("/items/search/")
    page.fill("input[name=resource]", "configmap")
    page.fill("input[name=namespace]", "shop")
    page.fill("input[name=name]", "web-config")
    page.click("#item-search button[type=submit]")
    page.wait_for_selector("#holders")
    rows = page.locator("#holders tbody tr")
    texts = rows.all_inner_texts()
    by_name = {t.split("\t")[0].strip(): t for t in texts}
    assert (
        "changed" in by_name["inside-2"]
        and "first seen" in by_name["inside-1"]
        or "same" in by_name["inside-1"]
    )
    screenshot(page, "inside-item-search")
    page.goto("/items/search/?resource=configmaps&namespace=shop&name=feature-flags")
    assert (
        "not in this backup"
        in page.locator(f"#holders tbody tr:has(a[href='/backups/{first}/'])").inner_text()
    )
    assert page.problems == []


def test_the_diff_of_two_backups(page, two_backups):
    first, second = two_backups
    page.goto(f"/backups/{second}/")
    page.click("#diff-link")
    page.wait_for_selector("#diff-pick")
    page.select_option("#diff-with", str(first))
    page.click("#diff-pick button[type=submit]")
    page.wait_for_selector("#diff-items")
    assert "inside-1 → inside-2" in page.locator("h1").inner_text()
    assert page.locator("#count-added small").inner_text() == "1"
    changed = int(page.locator("#count-changed small").inner_text())
    assert changed >= 1  # web-config (and whatever the API server touched)
    items = page.locator("#diff-items").inner_text()
    assert "feature-flags" in items and "data.replicas-hint" in items
    screenshot(page, "inside-diff")
    page.click("#count-added")
    page.wait_for_url("**status=added**")
    assert page.locator("#diff-items article").count() == 1
    assert page.problems == []


def test_a_backup_without_an_index_is_indexed_by_a_worker_while_the_page_waits(page, stack_env, two_backups):
    """As an imported backup or one from before the index: the page says it is being indexed,
    a real RQ worker builds the index, and the page reloads by itself with the items."""
    from pathlib import Path

    backup_id = back_up(stack_env, "inside-3")
    data = Path(stack_env["VELOWEB_DATA_DIR"])
    (data / "storage" / "backups" / "inside-3" / "inside-3-veloweb-index.tsv.gz").unlink()
    for cached in (data / "indexes").glob(f"{backup_id}-inside-3-*"):
        cached.unlink()
    page.goto(f"/backups/{backup_id}/items/")
    assert page.locator("#indexing").is_visible()
    screenshot(page, "inside-indexing")
    page.wait_for_selector("#items tbody tr", timeout=60_000)  # reloaded once the job finished
    assert int(page.locator("#items-found").inner_text().split()[0]) > 10
    assert (data / "storage" / "backups" / "inside-3" / "inside-3-veloweb-index.tsv.gz").exists()
    assert page.problems == []
