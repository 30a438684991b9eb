"""ItemBlock membership and walk order, edge by edge, as in the spec's part 2 (a)."""

import pytest

from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.relations import Related, Relation
from tests.engine.objects import (
    cluster_role,
    cluster_role_binding,
    configmap,
    deployment,
    namespace,
    pod,
    priority_class,
    pv,
    pvc,
    service_account,
)
from tests.engine.sources import RecordingSource, block_names, excluded_names, plan


def test_a_pod_brings_its_claim_which_brings_its_volume_and_the_other_running_pods_mounting_it():
    result = plan(
        [
            namespace("shop"),
            pod("shop", "web-1", ["uploads"]),
            pod("shop", "web-2", ["uploads"]),
            pvc("shop", "uploads", "pv-uploads"),
            pv("pv-uploads"),
        ]
    )
    assert block_names(result)[0] == [
        "pods shop/web-1",
        "persistentvolumeclaims shop/uploads",
        "persistentvolumes pv-uploads",
        "pods shop/web-2",
    ]
    reasons = [(i.reason, i.parent) for i in result.blocks[0].items]
    assert reasons == [("", None), ("mounted volume", 0), ("bound volume", 1), ("mounted by", 1)]


def test_a_claim_does_not_pull_in_pods_that_are_not_running():
    result = plan(
        [
            pod("shop", "job-1", ["scratch"], running=False),
            pod("shop", "web-1", ["scratch"]),
            pvc("shop", "scratch", "pv-1"),
            pv("pv-1"),
        ]
    )
    # The pending pod still pulls its claim (pod -> claim has no status check) ...
    assert block_names(result)[0] == [
        "pods shop/job-1",
        "persistentvolumeclaims shop/scratch",
        "persistentvolumes pv-1",
        "pods shop/web-1",
    ]
    # ... but a claim reached first never reaches a pending pod.
    result = plan(
        [
            pod("shop", "job-1", ["scratch"], running=False),
            pvc("shop", "scratch", "pv-1"),
            pv("pv-1"),
        ],
        ordered_resources={"persistentvolumeclaims": ["shop/scratch"]},
    )
    assert block_names(result) == [
        ["pods shop/job-1", "persistentvolumeclaims shop/scratch", "persistentvolumes pv-1"]
    ]


def test_a_succeeded_pod_is_not_running():
    result = plan(
        [
            pod("shop", "done", ["data"], phase="Succeeded"),
            pod("shop", "web", ["data"]),
            pvc("shop", "data", "pv-1"),
            pv("pv-1"),
        ]
    )
    assert ["pods shop/done"] in block_names(result) or block_names(result)[0][0] == "pods shop/done"
    web_block = next(b for b in block_names(result) if "pods shop/web" in b)
    assert "pods shop/done" not in web_block or web_block[0] == "pods shop/done"


def test_an_unbound_claim_brings_nothing_not_even_its_volume_group():
    result = plan(
        [
            pvc("db", "data-0", None, labels={"velero.io/volume-group": "g"}),
            pvc("db", "data-1", "pv-1", labels={"velero.io/volume-group": "g"}),
            pv("pv-1"),
        ]
    )
    assert block_names(result) == [
        ["persistentvolumeclaims db/data-0"],
        ["persistentvolumeclaims db/data-1", "persistentvolumes pv-1"],
    ]


def test_a_bound_claim_pulls_its_unbound_volume_group_peer():
    result = plan(
        [
            pvc("db", "data-0", "pv-0", labels={"velero.io/volume-group": "g"}),
            pvc("db", "data-1", None, labels={"velero.io/volume-group": "g"}),
            pv("pv-0"),
        ]
    )
    assert block_names(result) == [
        ["persistentvolumeclaims db/data-0", "persistentvolumes pv-0", "persistentvolumeclaims db/data-1"],
    ]


def statefulset(ns="db", replicas=3, label="velero.io/volume-group"):
    objects = []
    for i in range(replicas):
        objects += [
            pod(ns, f"db-{i}", [f"data-db-{i}"]),
            pvc(ns, f"data-db-{i}", f"pv-db-{i}", labels={label: "db"}),
            pv(f"pv-db-{i}"),
        ]
    return objects


def test_claims_sharing_a_volume_group_put_a_whole_statefulset_in_one_block():
    result = plan(statefulset())
    assert block_names(result) == [
        [
            "pods db/db-0",
            "persistentvolumeclaims db/data-db-0",
            "persistentvolumes pv-db-0",
            "persistentvolumeclaims db/data-db-1",
            "persistentvolumes pv-db-1",
            "pods db/db-1",
            "persistentvolumeclaims db/data-db-2",
            "persistentvolumes pv-db-2",
            "pods db/db-2",
        ]
    ]


def test_the_volume_group_label_key_is_configurable_and_empty_disables_grouping():
    objects = statefulset(label="example.com/group")
    assert len(plan(objects).blocks) == 3
    assert len(plan(objects, volume_group_label_key="example.com/group").blocks) == 1
    assert len(plan(statefulset(), volume_group_label_key="").blocks) == 3


def test_volume_groups_do_not_cross_namespaces():
    result = plan(
        [
            pvc("a", "data", "pv-a", labels={"velero.io/volume-group": "g"}),
            pv("pv-a"),
            pvc("b", "data", "pv-b", labels={"velero.io/volume-group": "g"}),
            pv("pv-b"),
        ]
    )
    assert len(result.blocks) == 2


def test_first_claim_wins_and_order_decides_membership():
    # db-2 mounts an unbound claim of the group: it is walked first (pods come first) and owns it.
    objects = [
        pod("db", "db-0", ["data-0"]),
        pod("db", "db-1", ["data-1"]),
        pvc("db", "data-0", "pv-0", labels={"velero.io/volume-group": "g"}),
        pvc("db", "data-1", None, labels={"velero.io/volume-group": "g"}),
        pv("pv-0"),
    ]
    result = plan(objects)
    assert block_names(result) == [
        [
            "pods db/db-0",
            "persistentvolumeclaims db/data-0",
            "persistentvolumes pv-0",
            "persistentvolumeclaims db/data-1",
        ],
        ["pods db/db-1"],
    ]
    every = [name for block in block_names(result) for name in block]
    assert len(every) == len(set(every))


def test_a_service_account_brings_the_cluster_role_bindings_naming_it_and_their_roles():
    result = plan(
        [
            service_account("ops", "deployer"),
            cluster_role_binding("z-deploy", "edit", ("ops", "deployer")),
            cluster_role_binding("a-view", "view", ("ops", "deployer"), ("other", "deployer")),
            cluster_role_binding("unrelated", "admin", ("other", "deployer")),
            cluster_role("edit"),
            cluster_role("view"),
            cluster_role("admin"),
        ]
    )
    sa_block = next(b for b in block_names(result) if b[0] == "serviceaccounts ops/deployer")
    assert sa_block == [
        "serviceaccounts ops/deployer",
        "clusterrolebindings.rbac.authorization.k8s.io a-view",
        "clusterrolebindings.rbac.authorization.k8s.io z-deploy",
        "clusterroles.rbac.authorization.k8s.io edit",
        "clusterroles.rbac.authorization.k8s.io view",
    ]
    assert [
        b for b in block_names(result) if b == ["clusterrolebindings.rbac.authorization.k8s.io unrelated"]
    ]


def test_related_cluster_scoped_items_are_fetched_live_in_a_namespace_backup():
    source = RecordingSource(
        ManifestSource(
            [
                namespace("shop"),
                namespace("other"),
                pod("shop", "web", ["data"], priority_class="high"),
                pvc("shop", "data", "pv-1"),
                pv("pv-1"),
                priority_class("high"),
            ]
        )
    )
    result = plan([], source=source, included_namespaces=["shop"])
    assert block_names(result)[0] == [
        "pods shop/web",
        "priorityclasses.scheduling.k8s.io high",
        "persistentvolumeclaims shop/data",
        "persistentvolumes pv-1",
    ]
    # cluster-scoped types are not collected when only some namespaces are backed up
    assert ("persistentvolumes", None) not in source.lists
    assert source.gets["persistentvolumes"] == 1
    assert source.gets["priorityclasses.scheduling.k8s.io"] == 1


def test_a_related_item_missing_from_the_cluster_is_a_warning():
    result = plan([pod("shop", "web", ["gone"], priority_class="missing")])
    assert block_names(result) == [["pods shop/web"]]
    warnings = [e for e in result.log.entries if e.level == "warning"]
    assert {(w.resource, w.name) for w in warnings} == {
        ("priorityclasses.scheduling.k8s.io", "missing"),
        ("persistentvolumeclaims", "gone"),
    }


def test_a_failing_live_fetch_is_an_error_naming_the_item_and_the_rest_goes_on():
    source = RecordingSource(
        ManifestSource(
            [namespace("shop"), pod("shop", "web", ["data"]), pvc("shop", "data", "pv-1"), pv("pv-1")]
        ),
        fail_get={"persistentvolumes": 500},
    )
    result = plan([], source=source, included_namespaces=["shop"])
    assert block_names(result)[0] == ["pods shop/web", "persistentvolumeclaims shop/data"]
    [error] = [e for e in result.log.entries if e.level == "error"]
    assert (error.resource, error.name) == ("persistentvolumes", "pv-1")


def test_explicitly_excluded_related_volumes_stay_out():
    objects = [namespace("shop"), pod("shop", "web", ["data"]), pvc("shop", "data", "pv-1"), pv("pv-1")]
    result = plan(objects, excluded_resources=["pv", "ns"])
    assert block_names(result) == [["pods shop/web", "persistentvolumeclaims shop/data"]]
    assert excluded_names(result) == ["persistentvolumes pv-1"]
    result = plan(objects, included_namespaces=["shop"], include_cluster_resources=False)
    assert excluded_names(result) == ["persistentvolumes pv-1"]


def test_a_namespaced_related_item_of_a_type_not_included_stays_out():
    result = plan(
        [pod("shop", "web", ["data"]), pvc("shop", "data", "pv-1"), pv("pv-1")], included_resources=["pods"]
    )
    assert block_names(result) == [["pods shop/web"]]
    assert excluded_names(result) == ["persistentvolumeclaims shop/data"]


def test_exclude_label_and_deletion_keep_items_out_and_stop_their_relations():
    result = plan(
        [
            pod("shop", "web", ["data"], labels={"velero.io/exclude-from-backup": "true"}),
            pod("shop", "old", deleting=True),
            pvc("shop", "data", "pv-1"),
            pv("pv-1"),
        ]
    )
    assert excluded_names(result) == ["pods shop/old", "pods shop/web"]
    assert block_names(result) == [["persistentvolumeclaims shop/data", "persistentvolumes pv-1"]]


def test_a_label_selector_filters_collection_but_not_related_items():
    result = plan(
        [
            namespace("shop"),
            namespace("empty"),
            pod("shop", "web", ["data"], labels={"app": "web"}),
            pod("shop", "other"),
            pvc("shop", "data", "pv-1"),
            pv("pv-1"),
        ],
        label_selector="app=web",
    )
    assert block_names(result) == [
        ["pods shop/web", "persistentvolumeclaims shop/data", "persistentvolumes pv-1"],
        ["namespaces shop"],
    ]


def test_ordered_resources_come_first_and_share_one_block():
    result = plan(
        [
            pod("a", "p1"),
            pod("a", "p2"),
            pod("a", "p3"),
            configmap("a", "c"),
        ],
        ordered_resources={"pods": ["a/p3", "a/p1", "a/missing"]},
    )
    assert block_names(result) == [["pods a/p3", "pods a/p1"], ["pods a/p2"], ["configmaps a/c"]]
    assert [e.message for e in result.log.entries if e.level == "warning"] == [
        "cannot find ordered resource 'a/missing'"
    ]


def test_ordered_cluster_scoped_resources_use_bare_names():
    result = plan([pv("b"), pv("a"), pv("c")], ordered_resources={"persistentvolumes": ["c", "b"]})
    assert block_names(result) == [["persistentvolumes c", "persistentvolumes b"], ["persistentvolumes a"]]


class SameAppRelation(Relation):
    """A user's relation: deployments of one app are backed up together."""

    name = "example.com/same-app"
    applies_to = ("deployments.apps",)
    watches = {"deployments.apps": lambda d: d["metadata"]["name"].split("-")[0]}

    def related(self, namespace, name, facts, ctx):
        app = name.split("-")[0]
        for other, other_app in ctx.objects(self, "deployments.apps", namespace):
            if other != name and other_app == app:
                yield Related("deployments.apps", namespace, other, "same app")


def test_relations_are_pluggable():
    objects = [deployment("a", "shop-api"), deployment("a", "blog"), deployment("a", "shop-web")]
    assert len(plan(objects).blocks) == 3
    result = plan(objects, relations=[SameAppRelation()])
    assert block_names(result) == [
        ["deployments.apps a/blog"],
        ["deployments.apps a/shop-api", "deployments.apps a/shop-web"],
    ]


def test_each_namespace_is_listed_once_for_pvc_relations_not_once_per_claim():
    objects = [namespace("big")]
    for i in range(50):
        objects += [pod("big", f"p{i:02}", [f"c{i:02}"]), pvc("big", f"c{i:02}", f"v{i:02}"), pv(f"v{i:02}")]
    source = RecordingSource(ManifestSource(objects))
    plan([], source=source, label_selector="!nothing")  # a selector: collection cannot feed the relations
    assert source.lists[("pods", "big")] == 1
    assert source.lists[("persistentvolumeclaims", "big")] <= 1


def test_a_full_backup_lists_each_resource_once():
    source = RecordingSource(ManifestSource(statefulset()))
    plan([], source=source)
    assert source.lists[("pods", None)] == 1
    assert all(count == 1 for count in source.lists.values())


@pytest.mark.parametrize(
    "spec",
    [
        {"included_namespaces": ["a"]},
        {},
    ],
)
def test_every_collected_item_is_in_exactly_one_block_or_excluded(spec):
    objects = statefulset("a") + [configmap("a", "x"), namespace("a")]
    result = plan(objects, **spec)
    names = [n for b in block_names(result) for n in b] + excluded_names(result)
    assert len(names) == len(set(names))


def test_an_included_namespace_that_does_not_exist_is_a_warning():
    """Velero lists it anyway (it may hold items without a Namespace object) and only says so."""
    result = plan([namespace("shop"), pod("shop", "web")], included_namespaces=["shop", "gone"])
    assert block_names(result) == [["pods shop/web"], ["namespaces shop"]]
    [warning] = result.log.entries
    assert (warning.level, warning.resource, warning.name) == ("warning", "namespaces", "gone")
    assert warning.message == "namespace gone in included namespaces does not exist"
