"""An operator restores a backup from its page in headless Chromium, against the real stack: the
form (cluster preselected, an inline error), the dry run (counts, a filter, a conflict's diff),
then the restore, whose page goes Completed live over the WebSocket, tier by tier; the Restores
history lists it. The target is an emulator of its own, seeded with one identical and one changed
object, so the dry run has each action to show."""

import copy
import re

import pytest

from emulator import KubeEmulator
from tests.browser.conftest import manage, screenshot, shell

pytestmark = pytest.mark.usefixtures("rq_workers", "sample_cluster")


@pytest.fixture(scope="module")
def target(stack_env, sample_emulator, tmp_path_factory):
    """An empty cluster holding a copy of shop's namespace and a changed copy of one configmap."""
    namespace = copy.deepcopy(sample_emulator.get("namespaces", None, "shop"))
    configmap = next(o for o in sample_emulator.objects() if o["kind"] == "ConfigMap"
                     and o["metadata"].get("namespace") == "shop")  # fmt: skip
    changed = copy.deepcopy(configmap)
    changed["data"] = {**(changed.get("data") or {}), "changed-by": "hand"}
    with KubeEmulator([namespace, changed]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path_factory.mktemp("kube-target") / "kubeconfig"))
        manage(stack_env, "cluster", "add", "restore-target", "--kubeconfig", kubeconfig)
        emulator.changed_configmap = configmap["metadata"]["name"]
        yield emulator


def ids(env, code: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", shell(env, code).strip().splitlines()[-1])]


def test_restore_a_backup_from_its_page_with_a_dry_run_first(page, stack_env, target):
    manage(
        stack_env, "backup", "create", "ui-restore-1", "--cluster", "sample", "--include-namespaces", "shop",
        "--wait", "--timeout", "180", timeout=240,
    )  # fmt: skip
    code = "from backups.models import Backup as B; print(B.objects.get(name='ui-restore-1').pk)"
    (backup_id,) = ids(stack_env, code)
    page.goto(f"/backups/{backup_id}/")
    page.click("#restore-backup")
    page.wait_for_selector("#restore-form")
    assert page.locator("#id_cluster option[selected]").inner_text() == "sample"  # the backup's own
    page.select_option("#id_cluster", label="restore-target")
    page.fill("#id_namespace_mapping", "shop")  # checked inline, as typed
    page.wait_for_selector("#notes-namespace_mapping .errorlist", timeout=10_000)
    assert "expected old:new" in page.inner_text("#notes-namespace_mapping")
    screenshot(page, "restore-01-form-inline-error")
    page.fill("#id_namespace_mapping", "")
    page.wait_for_selector("#notes-namespace_mapping .errorlist", state="detached", timeout=10_000)

    page.click("#dry-run-button")
    page.wait_for_url(re.compile(r"/restores/dry-runs/"), timeout=60_000)
    assert int(page.inner_text("#count-create")) > 5
    assert page.inner_text("#count-skip") == "1"  # the namespace, identical
    assert page.inner_text("#count-conflict") == "1"  # the configmap changed by hand
    screenshot(page, "restore-02-dry-run")
    page.select_option("#filter-action", "conflict")
    page.wait_for_selector("#dry-run-items tr.action-create", state="detached")  # htmx swapped the table
    assert page.locator("#dry-run-items table.dry-run > tbody > tr").count() == 1
    assert target.changed_configmap in page.inner_text("#dry-run-items")
    page.click("#dry-run-items details.diff summary")
    assert "changed-by" in page.inner_text("#dry-run-items details.diff")
    screenshot(page, "restore-03-dry-run-conflict-diff")

    target.set_latency(0.05)  # slow enough to see it run
    try:
        page.click("#restore-from-dry-run")
        page.wait_for_url(re.compile(r"/restores/\d+/$"))
        page.wait_for_selector("body[data-ws=open]", timeout=10_000)
        page.wait_for_selector("#restore-tiers tr[id^=tier-]", timeout=60_000)
        screenshot(page, "restore-04-running")
        page.wait_for_selector("#phase:text-is('Completed')", timeout=120_000)  # a warning is no failure
    finally:
        target.set_latency(0)
    # the changed configmap exists and policy is none: Velero's warning, under its namespace
    assert "already exists" in page.inner_text("#restore-results")
    assert "Namespaces shop" in page.inner_text("#restore-results")
    assert page.inner_text("#items-failed") == "0"  # not restored as it exists: skipped, with the warning
    done = page.locator("#restore-tiers .badge.ok").count()
    assert done == page.locator("#restore-tiers tr[id^=tier-]").count() > 1
    screenshot(page, "restore-05-done")
    assert any(o["metadata"].get("labels", {}).get("velero.io/restore-name") for o in target.objects())

    page.click("#site-nav >> text=Restores")
    page.wait_for_url("**/restores/")
    assert "ui-restore-1-" in page.inner_text("#restore-history")
    screenshot(page, "restore-06-history")
    assert page.problems == []
