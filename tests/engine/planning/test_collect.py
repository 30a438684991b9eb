"""Which items a backup collects, and in which order (spec part 2 (f))."""

import pytest

from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.collect import collection_order
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.planning.spec import SpecError
from tests.engine.objects import cluster_role, configmap, deployment, namespace, pod, pv, pvc
from tests.engine.sources import ListSource, RecordingSource, block_names, plan


def collected(result):
    return [name for block in block_names(result) for name in block]


def test_core_group_comes_first_with_pods_then_claims_then_volumes():
    table = ResourceTable(
        [
            ResourceInfo("", "v1", "configmaps", "ConfigMap", True),
            ResourceInfo("", "v1", "persistentvolumes", "PersistentVolume", False),
            ResourceInfo("extensions", "v1beta1", "ingresses", "Ingress", True),
            ResourceInfo("apps", "v1", "deployments", "Deployment", True),
            ResourceInfo("", "v1", "pods", "Pod", True),
            ResourceInfo("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
            ResourceInfo("", "v1", "pods/exec", "PodExecOptions", True, verbs=("create",)),
            ResourceInfo("batch", "v1", "jobs", "Job", True),
            ResourceInfo("", "v1", "bindings", "Binding", True, verbs=("create",)),
        ]
    )
    assert [r.group_resource for r in collection_order(table)] == [
        "pods",
        "persistentvolumeclaims",
        "persistentvolumes",
        "configmaps",
        "deployments.apps",
        "jobs.batch",
        "ingresses.extensions",
    ]


def test_within_a_resource_items_come_in_namespace_then_name_order():
    result = plan([configmap("b", "a"), configmap("a", "z"), configmap("a", "b")], included_namespaces=["*"])
    assert collected(result) == ["configmaps a/b", "configmaps a/z", "configmaps b/a"]


def test_cohabiting_resources_are_collected_once_from_apps_not_extensions():
    table = ResourceTable(
        [
            ResourceInfo("", "v1", "namespaces", "Namespace", False),
            ResourceInfo("extensions", "v1beta1", "deployments", "Deployment", True),
            ResourceInfo("apps", "v1", "deployments", "Deployment", True),
        ]
    )
    objects = [
        deployment("a", "web", group="apps"),
        {**deployment("a", "web"), "apiVersion": "extensions/v1beta1"},
    ]
    result = plan([], source=ListSource(table, objects))
    assert collected(result) == ["deployments.apps a/web"]


def test_namespace_globs_include_and_exclude_with_exclude_winning():
    objects = [namespace(n) for n in ("shop", "shop-dev", "blog", "kube-system")]
    objects += [configmap(n["metadata"]["name"], "cm") for n in objects]
    result = plan(objects, included_namespaces=["shop*", "blog"], excluded_namespaces=["*-dev"])
    assert collected(result) == [
        "configmaps blog/cm",
        "configmaps shop/cm",
        "namespaces blog",
        "namespaces shop",
    ]


def test_a_namespace_pattern_that_matches_nothing_includes_nothing():
    result = plan([namespace("shop"), configmap("shop", "cm")], included_namespaces=["nothing-*"])
    assert collected(result) == []
    assert result.log.errors == 0


def test_cluster_scoped_resources_follow_the_include_cluster_resources_tri_state():
    objects = [namespace("a"), configmap("a", "cm"), pv("v"), cluster_role("r")]
    everything = collected(plan(objects))
    assert "persistentvolumes v" in everything and "clusterroles.rbac.authorization.k8s.io r" in everything
    some = collected(plan(objects, included_namespaces=["a"]))
    assert some == ["configmaps a/cm", "namespaces a"]
    forced = collected(plan(objects, included_namespaces=["a"], include_cluster_resources=True))
    assert "persistentvolumes v" in forced
    none = collected(plan(objects, include_cluster_resources=False))
    assert none == ["configmaps a/cm"]


def test_resource_names_resolve_through_discovery_short_names_and_kinds():
    objects = [namespace("a"), configmap("a", "cm"), pod("a", "p"), pvc("a", "c")]
    assert collected(plan(objects, included_resources=["cm", "Pod"])) == ["pods a/p", "configmaps a/cm"]
    assert "configmaps a/cm" not in collected(plan(objects, excluded_resources=["configmap"]))


def test_unknown_resources_match_nothing_and_the_backup_says_so():
    """Velero keeps a name discovery does not know as it is: it matches nothing, the backup runs."""
    objects = [namespace("a"), configmap("a", "cm"), pod("a", "p")]
    result = plan(objects, included_resources=["pods", "pods-typo"])
    assert collected(result) == ["pods a/p"]
    assert [e.message for e in result.log.entries if e.level == "warning"] == [
        "unknown resource 'pods-typo' in included resources: the cluster does not serve it, "
        "so it matches nothing"
    ]
    assert collected(plan(objects, included_resources=["typo-1", "typo-2"])) == []
    result = plan(objects, excluded_resources=["potatoes"], ordered_resources={"potatoes": ["a"]})
    assert collected(result) == ["pods a/p", "configmaps a/cm", "namespaces a"]
    assert [(e.level, e.message.split(":")[0]) for e in result.log.entries] == [
        ("warning", "unknown resource 'potatoes' in excluded resources"),
        ("warning", "unknown resource 'potatoes' in ordered resources"),
    ]


def test_lists_velero_refuses_are_clear_errors():
    objects = [namespace("a")]
    with pytest.raises(SpecError, match="'\\*' only"):
        plan(objects, included_resources=["*", "pods"])
    with pytest.raises(SpecError, match="'\\*' cannot be excluded"):
        plan(objects, excluded_resources=["*"])
    with pytest.raises(SpecError, match="both included and excluded"):
        plan(objects, included_resources=["pods"], excluded_resources=["pods"])
    with pytest.raises(SpecError, match="invalid namespace"):
        plan(objects, included_namespaces=["Not_A_Namespace"])
    with pytest.raises(SpecError, match='invalid label selector "app in \\(a"'):
        plan(objects, label_selector="app in (a")


def test_namespaces_are_kept_when_named_by_the_filter_or_when_they_hold_an_item():
    objects = [
        namespace("a"),
        namespace("b", labels={"team": "x"}),
        namespace("c"),
        configmap("a", "cm", labels={"team": "x"}),
    ]
    result = plan(objects, label_selector="team=x")
    assert collected(result) == ["configmaps a/cm", "namespaces a", "namespaces b"]
    result = plan(objects, included_namespaces=["c"])
    assert collected(result) == ["namespaces c"]


def test_a_namespace_labelled_for_exclusion_is_excluded_with_everything_in_it():
    objects = [
        namespace("a"),
        namespace("secret", labels={"velero.io/exclude-from-backup": "true"}),
        configmap("a", "cm"),
        configmap("secret", "cm"),
    ]
    result = plan(objects)
    assert "configmaps secret/cm" not in collected(result)
    assert "configmaps a/cm" in collected(result)


def test_terminating_namespaces_are_not_tracked():
    result = plan(
        [namespace("old", phase="Terminating"), namespace("a"), configmap("a", "cm")],
        included_namespaces=["old", "a"],
    )
    assert collected(result) == ["configmaps a/cm", "namespaces a"]


def test_a_403_on_one_resource_is_an_error_naming_it_and_the_others_are_collected():
    source = RecordingSource(
        ManifestSource(
            [namespace("a"), namespace("b"), configmap("a", "cm"), configmap("b", "cm"), pod("b", "p")]
        ),
        fail_list={("configmaps", "a"): 403},
    )
    result = plan([], source=source, included_namespaces=["a", "b"])
    assert collected(result) == ["pods b/p", "configmaps b/cm", "namespaces a", "namespaces b"]
    [error] = [e for e in result.log.entries if e.level == "error"]
    assert (error.resource, error.namespace) == ("configmaps", "a")
    assert "forbidden" in error.message


def test_volume_snapshots_are_never_collected():
    objects = [
        namespace("a"),
        {
            "apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshot",
            "metadata": {"name": "s", "namespace": "a"},
        },
    ]
    assert collected(plan(objects)) == ["namespaces a"]
