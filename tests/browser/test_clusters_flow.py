"""An admin's cluster flow in headless Chromium: a cluster that cannot be reached is refused with
the reason at its field, a reachable one is saved and shows as reachable, and the Check button
shows it unreachable, with the reason, once its API server is gone."""

import pytest

from emulator import SAMPLE_CLUSTER, KubeEmulator
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.usefixtures("sample_cluster")


def test_a_cluster_is_checked_on_save_and_on_demand(admin_page, tmp_path):
    page = admin_page
    page.goto("/settings/clusters/new/")
    page.fill("#id_name", "staging")
    page.fill("#id_kubeconfig_path", str(tmp_path / "missing-kubeconfig"))
    page.click("main button[type=submit]")
    error = page.locator("#id_kubeconfig_path-errors")
    assert "not found" in error.inner_text()
    screenshot(page, "cluster-refused")

    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path / "kubeconfig"))
        page.fill("#id_kubeconfig_path", kubeconfig)
        page.click("main button[type=submit]")
        page.wait_for_url("**/settings/")
        row = page.locator("#clusters tr", has_text="staging")
        assert "reachable" in row.locator(".cluster-status").inner_text()
    # the emulator is gone: the API server no longer answers
    row.locator("button.check-cluster").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#clusters tr')].some("
        "r => r.textContent.includes('staging') && r.textContent.includes('unreachable'))"
    )
    row = page.locator("#clusters tr", has_text="staging")
    assert "discovery failed" in row.locator(".cluster-error").inner_text()
    screenshot(page, "cluster-unreachable")
    assert page.problems == [], page.problems
