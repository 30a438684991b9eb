"""The bundled sample cluster, previewed offline from its manifests and live over HTTP.

This is what a newcomer sees first, so its blocks are spelled out here; the live preview
through the official client against the emulator must give exactly the same plan.
"""

import pytest

from backups.engine.log import BackupLog
from backups.engine.manifests.reader import load_manifests
from backups.engine.planning.itemblocks import plan_item_blocks
from backups.engine.planning.spec import BackupSpec
from backups.kube import connect
from emulator import SAMPLE_CLUSTER, KubeEmulator

from .sources import block_names


@pytest.fixture(scope="module")
def offline_plan():
    return plan_item_blocks(load_manifests(SAMPLE_CLUSTER), BackupSpec(), BackupLog())


def block_of(plan, name):
    return next(block for block in block_names(plan) if name in block)


def test_the_database_statefulset_is_one_block_through_its_volume_group(offline_plan):
    assert block_of(offline_plan, "pods shop/db-0") == [
        "pods shop/db-0",
        "priorityclasses.scheduling.k8s.io high-priority",
        "persistentvolumeclaims shop/data-db-0",
        "persistentvolumes pvc-db-0",
        "persistentvolumeclaims shop/data-db-1",
        "persistentvolumes pvc-db-1",
        "pods shop/db-1",
        "persistentvolumeclaims shop/data-db-2",
        "persistentvolumes pvc-db-2",
        "pods shop/db-2",
    ]


def test_the_web_pods_sharing_an_rwx_claim_are_one_block(offline_plan):
    block = block_of(offline_plan, "persistentvolumeclaims shop/web-uploads")
    assert block[1:3] == ["persistentvolumeclaims shop/web-uploads", "persistentvolumes pvc-web-uploads"]
    assert sorted(n for n in block if n.startswith("pods ")) == [n for n in block if n.startswith("pods ")]
    assert len([n for n in block if n.startswith("pods shop/web-")]) == 2


def test_service_accounts_bring_their_cluster_role_bindings(offline_plan):
    assert block_of(offline_plan, "serviceaccounts shop/db") == [
        "serviceaccounts shop/db",
        "clusterrolebindings.rbac.authorization.k8s.io shop-db-operator",
        "clusterroles.rbac.authorization.k8s.io shop-db-operator",
    ]


def test_the_pod_labelled_for_exclusion_is_left_out(offline_plan):
    assert [str(k) for k in offline_plan.excluded] == ["pods shop/debug-shell"]
    every = [n for block in block_names(offline_plan) for n in block]
    assert len(every) == len(set(every))
    widgets = [n for n in every if n.startswith("widgets.example.com ")]
    assert widgets == [
        "widgets.example.com shop/blue-widget",
        "widgets.example.com shop/green-widget",
        "widgets.example.com shop/red-widget",
    ]


def test_a_live_preview_over_http_gives_the_same_plan(offline_plan, tmp_path):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path / "kubeconfig"))
        source = connect(kubeconfig=kubeconfig, page_size=7)
        live = plan_item_blocks(source, BackupSpec(), BackupLog())
    assert block_names(live) == block_names(offline_plan)
    assert live.excluded == offline_plan.excluded


def test_a_403_on_one_resource_in_one_namespace_is_an_error_and_the_rest_is_planned(offline_plan, tmp_path):
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        kubeconfig = emulator.write_kubeconfig(str(tmp_path / "kubeconfig"))
        emulator.fail(403, resource="secrets", namespace="shop", verb="list")
        log = BackupLog()
        live = plan_item_blocks(
            connect(kubeconfig=kubeconfig), BackupSpec(included_namespaces=["shop", "payments"]), log
        )
    [error] = [e for e in log.entries if e.level == "error"]
    assert (error.resource, error.namespace) == ("secrets", "shop")
    assert "forbidden" in error.message.lower()
    planned = {n for block in block_names(live) for n in block}
    assert "secrets shop/db-credentials" not in planned
    assert any(n.startswith("secrets payments/") for n in planned)
    assert block_of(live, "pods shop/db-0") == block_of(offline_plan, "pods shop/db-0")
