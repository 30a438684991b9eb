"""The bundled discovery table: what offline mode believes a cluster serves."""

import pytest

from backups.engine.manifests.builtin_discovery import builtin_resource_table


@pytest.fixture(scope="module")
def table():
    return builtin_resource_table()


def test_groups_come_in_api_server_discovery_order_core_first(table):
    groups = list(dict.fromkeys(info.group for info in table))
    assert groups[:8] == [
        "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io",
        "authorization.k8s.io", "autoscaling", "batch",
    ]
    assert groups.index("rbac.authorization.k8s.io") < groups.index("storage.k8s.io")
    assert groups.index("apiextensions.k8s.io") < groups.index("scheduling.k8s.io")
    assert groups[-1] == "snapshot.storage.k8s.io"


def test_core_resources_are_listed_alphabetically_as_discovery_does(table):
    core = [info.resource for info in table if info.group == ""]
    assert core == sorted(core)
    assert {"pods", "persistentvolumeclaims", "persistentvolumes", "configmaps", "secrets"} <= set(core)


def test_each_resource_appears_once_at_its_preferred_version(table):
    names = [info.group_resource for info in table]
    assert len(names) == len(set(names))
    assert table.by_group_resource("horizontalpodautoscalers.autoscaling").version == "v2"
    assert all("/" not in name for name in names)  # subresources are not listable resources


@pytest.mark.parametrize(
    ("short", "group_resource"),
    [
        ("po", "pods"), ("pvc", "persistentvolumeclaims"), ("pv", "persistentvolumes"), ("svc", "services"),
        ("cm", "configmaps"), ("sa", "serviceaccounts"), ("ns", "namespaces"), ("deploy", "deployments.apps"),
        ("rs", "replicasets.apps"), ("sts", "statefulsets.apps"), ("ds", "daemonsets.apps"),
        ("cj", "cronjobs.batch"), ("hpa", "horizontalpodautoscalers.autoscaling"),
        ("ing", "ingresses.networking.k8s.io"), ("netpol", "networkpolicies.networking.k8s.io"),
        ("pdb", "poddisruptionbudgets.policy"), ("pc", "priorityclasses.scheduling.k8s.io"),
        ("sc", "storageclasses.storage.k8s.io"), ("crd", "customresourcedefinitions.apiextensions.k8s.io"),
        ("vs", "volumesnapshots.snapshot.storage.k8s.io"),
        ("vsc", "volumesnapshotcontents.snapshot.storage.k8s.io"),
        ("vsclass", "volumesnapshotclasses.snapshot.storage.k8s.io"),
    ],
)
def test_short_names_resolve_as_kubectl_does(table, short, group_resource):
    assert table.resolve(short).group_resource == group_resource


def test_events_resolve_to_the_core_group_first(table):
    assert table.resolve("events").group == ""
    assert table.resolve("events.events.k8s.io").group == "events.k8s.io"


def test_scope_is_right_for_the_resources_that_block_planning_relies_on(table):
    namespaced = {info.group_resource: info.namespaced for info in table}
    assert namespaced["pods"] and namespaced["persistentvolumeclaims"] and namespaced["serviceaccounts"]
    assert not namespaced["persistentvolumes"]
    assert not namespaced["priorityclasses.scheduling.k8s.io"]
    assert not namespaced["clusterrolebindings.rbac.authorization.k8s.io"]
    assert not namespaced["namespaces"]


def test_only_resources_with_list_get_create_delete_are_backupable(table):
    backupable = {info.group_resource for info in table if info.backupable}
    assert {"pods", "namespaces", "deployments.apps", "clusterroles.rbac.authorization.k8s.io"} <= backupable
    assert "bindings" not in backupable  # create only
    assert "componentstatuses" not in backupable  # get and list only
    assert "tokenreviews.authentication.k8s.io" not in backupable
    assert "selfsubjectaccessreviews.authorization.k8s.io" not in backupable


def test_clusterrolebindings_have_no_short_name(table):
    assert table.by_group_resource("clusterrolebindings.rbac.authorization.k8s.io").short_names == ()


def test_each_call_returns_an_independent_table():
    first = builtin_resource_table()
    first.resources.clear()
    assert len(builtin_resource_table()) > 50
