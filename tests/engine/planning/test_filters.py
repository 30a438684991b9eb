"""Velero's namespace and resource filters, or-selectors, and what its controller refuses or lets
through (`spec_errors`, `spec_warnings`): the rules of `item_collector.go`, `includes_excludes.go`
and `backup_controller.go`."""

import pytest

from backups.engine.manifests.reader import ManifestSource
from backups.engine.planning.filters import NamespaceFilter
from backups.engine.planning.label_selectors import InvalidSelector
from backups.engine.planning.spec import BackupSpec, SpecError, parse_or_selectors, spec_errors, spec_warnings
from tests.engine.objects import cluster_role, configmap, namespace, pod, pv, pvc
from tests.engine.sources import RecordingSource, block_names, plan


def collected(result):
    return [name for block in block_names(result) for name in block]


def warnings(result):
    return [e.message for e in result.log.entries if e.level == "warning"]


class SelectorRecordingSource(RecordingSource):
    """Also records the label selector of every list call."""

    def __init__(self, inner):
        super().__init__(inner)
        self.selectors = []

    def list(self, resource, namespace=None, label_selector=None):
        self.selectors.append((resource.group_resource, namespace, label_selector))
        return super().list(resource, namespace, label_selector)


# --- namespaces: Velero's getNamespacesToList and nsTracker ------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [{}, {"included_namespaces": ["old"]}, {"excluded_namespaces": ["a"]}],
    ids=["no filter", "included", "other excluded"],
)
def test_a_pod_in_a_terminating_namespace_is_backed_up_whatever_the_namespace_filter(spec):
    objects = [namespace("old", phase="Terminating"), namespace("a"), pod("old", "p"), pod("a", "q")]
    assert "pods old/p" in collected(plan(objects, **spec))


def test_an_exclude_alone_lists_every_namespace_at_once_and_drops_the_excluded_per_item():
    """No Namespace object is needed: Velero lists across all namespaces and filters each item."""
    source = RecordingSource(ManifestSource([pod("foo", "bar"), pod("zoo", "raz")]))
    result = plan([], source=source, excluded_namespaces=["zoo"])
    assert collected(result) == ["pods foo/bar"]
    assert [str(k) for k in result.excluded] == ["pods zoo/raz"]
    assert source.lists[("pods", None)] == 1
    assert not [key for key in source.lists if key[1] is not None]


def test_included_namespaces_are_listed_whether_or_not_they_exist_and_a_missing_one_is_a_warning():
    source = RecordingSource(ManifestSource([namespace("foo"), pod("foo", "bar"), pod("ghost", "p")]))
    result = plan([], source=source, included_namespaces=["foo", "ghost", "gone"])
    assert collected(result) == ["pods foo/bar", "pods ghost/p", "namespaces foo"]
    assert {ns for gr, ns in source.lists if gr == "pods"} == {"foo", "ghost", "gone"}
    assert warnings(result) == [
        "namespace ghost in included namespaces does not exist",
        "namespace gone in included namespaces does not exist",
    ]
    assert result.log.errors == 0


def test_patterns_expand_against_the_cluster_namespaces_and_names_stay_as_given():
    objects = [namespace(n) for n in ("shop", "shop-dev", "blog")]
    objects += [pod("shop", "a"), pod("shop-dev", "b"), pod("blog", "c")]
    source = RecordingSource(ManifestSource(objects))
    result = plan([], source=source, included_namespaces=["shop*", "ghost"], excluded_namespaces=["*-dev"])
    assert collected(result) == ["pods shop/a", "namespaces shop"]
    assert {ns for gr, ns in source.lists if gr == "pods"} == {"shop", "ghost"}
    assert warnings(result) == ["namespace ghost in included namespaces does not exist"]


def test_a_pattern_that_matches_no_namespace_includes_nothing_and_says_so():
    result = plan([namespace("shop"), pod("shop", "a"), pv("v")], included_namespaces=["nothing-*"])
    assert collected(result) == []
    assert warnings(result) == ["no namespaces matched the resolution of wildcard patterns"]


def test_a_namespace_labelled_out_of_backups_cannot_be_named_among_the_included():
    """Velero's controller adds it to the excluded namespaces, then refuses the overlap."""
    objects = [namespace("secret", labels={"velero.io/exclude-from-backup": "true"}), namespace("a")]
    with pytest.raises(SpecError, match="secret is both included and excluded \\(labelled velero.io/exclude"):
        plan(objects, included_namespaces=["a", "secret"])
    assert collected(plan(objects + [pod("secret", "p")], included_namespaces=["a", "sec*"])) == [
        "namespaces a"
    ]


# --- or-selectors -------------------------------------------------------------------------------------


def test_or_selectors_list_once_per_selector_and_collect_an_item_once():
    objects = [
        namespace("a"),
        pod("a", "x", labels={"app": "web", "tier": "db"}),
        pod("a", "y", labels={"tier": "db"}),
        pod("a", "z"),
    ]
    source = SelectorRecordingSource(ManifestSource(objects))
    result = plan([], source=source, or_label_selectors=["app=web", "tier=db"])
    assert collected(result) == ["pods a/x", "pods a/y", "namespaces a"]
    assert [s for gr, ns, s in source.selectors if gr == "pods"] == ["app=web", "tier=db"]
    # the namespace list itself is never filtered by label (Velero's collectNamespaces)
    assert [s for gr, ns, s in source.selectors if gr == "namespaces"] == [None]


def test_a_namespace_matching_any_or_selector_is_kept_with_its_own_object():
    objects = [
        namespace("a", labels={"team": "x"}),
        namespace("b"),
        configmap("b", "cm", labels={"app": "y"}),
    ]
    result = plan(objects, or_label_selectors=["team=x", "app=y"])
    assert collected(result) == ["configmaps b/cm", "namespaces a", "namespaces b"]


def test_or_selector_syntax_is_veleros():
    assert parse_or_selectors("a=b or c in (d,e) or !f") == ["a=b", "c in (d,e)", "!f"]
    assert parse_or_selectors("  ") == []
    with pytest.raises(InvalidSelector, match='invalid label selector "c in \\(d"'):
        parse_or_selectors("a=b or c in (d")
    with pytest.raises(SpecError, match="an empty selector around ' or '"):
        parse_or_selectors("a=b or  or c=d")


# --- the scoped (new-style) resource filters ----------------------------------------------------------

CLUSTER = [namespace("a"), configmap("a", "cm"), pod("a", "p"), pv("v"), cluster_role("r")]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ["pods a/p", "persistentvolumes v", "configmaps a/cm", "namespaces a", "clusterroles r"]),
        (
            {"included_cluster_scoped_resources": ["pv"]},
            ["pods a/p", "persistentvolumes v", "configmaps a/cm", "namespaces a"],
        ),
        ({"excluded_cluster_scoped_resources": ["*"]}, ["pods a/p", "configmaps a/cm"]),
        ({"included_namespaces": ["a"]}, ["pods a/p", "configmaps a/cm", "namespaces a"]),
        ({"included_namespace_scoped_resources": ["pods"]}, ["pods a/p", "namespaces a"]),
        (
            {"included_namespace_scoped_resources": ["*"]},
            ["pods a/p", "persistentvolumes v", "configmaps a/cm", "namespaces a", "clusterroles r"],
        ),  # noqa: E501
        (
            {"excluded_namespace_scoped_resources": ["*"], "included_cluster_scoped_resources": ["*"]},
            ["persistentvolumes v", "namespaces a", "clusterroles r"],
        ),
        ({"excluded_namespace_scoped_resources": ["configmaps"]}, ["pods a/p", "namespaces a"]),
    ],
)
def test_scoped_filters_take_cluster_scoped_types_only_when_listed_or_for_a_full_backup(spec, expected):
    got = [n.replace(".rbac.authorization.k8s.io", "") for n in collected(plan(CLUSTER, **spec))]
    assert sorted(got) == sorted(expected)


def test_a_related_volume_is_kept_unless_its_type_is_explicitly_excluded():
    objects = [namespace("a"), pod("a", "p", claims=["data"]), pvc("a", "data", "vol"), pv("vol")]
    scoped = {"included_namespaces": ["a"], "included_namespace_scoped_resources": ["pods", "pvc"]}
    assert block_names(plan(objects, **scoped))[0] == [
        "pods a/p",
        "persistentvolumeclaims a/data",
        "persistentvolumes vol",
    ]
    result = plan(objects, excluded_cluster_scoped_resources=["persistentvolumes"], **scoped)
    assert "persistentvolumes vol" not in collected(result)
    assert [str(k) for k in result.excluded] == ["persistentvolumes vol"]


def test_a_name_of_the_other_scope_is_dropped_as_velero_does_with_a_warning():
    """An include list left empty includes every type of its scope: Velero's rule, so say so."""
    result = plan(
        CLUSTER, included_namespaces=["a"], included_namespace_scoped_resources=["persistentvolumes"]
    )
    assert collected(result) == ["pods a/p", "configmaps a/cm", "namespaces a"]
    assert warnings(result) == [
        "'persistentvolumes' in included namespace-scoped resources is cluster-scoped: ignored there, "
        "as Velero does"
    ]


def test_a_policy_include_exclude_list_joins_the_backups_whose_own_lists_win():
    policy = "version: v1\nincludeExcludePolicy:\n  excludedNamespaceScopedResources: [configmaps, pods]\n"
    assert collected(plan(CLUSTER, resource_policy=policy, included_namespaces=["a"])) == ["namespaces a"]
    own = plan(CLUSTER, resource_policy=policy, included_namespace_scoped_resources=["pods"])
    assert sorted(collected(own)) == ["namespaces a", "pods a/p"]


def test_the_snapshot_types_stay_out_without_counting_as_a_cluster_scoped_list():
    snapshots = [
        {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": kind, "metadata": meta}
        for kind, meta in (
            ("VolumeSnapshot", {"name": "s", "namespace": "a"}),
            ("VolumeSnapshotContent", {"name": "c"}),
        )
    ]
    assert sorted(collected(plan(CLUSTER + snapshots))) == sorted(
        [
            "pods a/p",
            "persistentvolumes v",
            "configmaps a/cm",
            "namespaces a",
            "clusterroles.rbac.authorization.k8s.io r",
        ]  # noqa: E501
    )


# --- what Velero's controller refuses -----------------------------------------------------------------

POLICY_WITH_LISTS = "version: v1\nincludeExcludePolicy:\n  includedClusterScopedResources: [pv]\n"


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"included_resources": ["pods"], "included_cluster_scoped_resources": ["pv"]},
            "included_cluster_scoped_resources",
            "old and new resource filters cannot be used together",
        ),
        (
            {"include_cluster_resources": False, "excluded_namespace_scoped_resources": ["pods"]},
            "excluded_namespace_scoped_resources",
            "old and new resource filters cannot be used together",
        ),
        ({"included_resources": ["*", "pods"]}, "included_resources", "must either be '*' only"),
        ({"excluded_resources": ["*"]}, "excluded_resources", "'*' cannot be excluded"),
        (
            {"included_resources": ["pods"], "excluded_resources": ["pods"]},
            "excluded_resources",
            "pods is both included and excluded",
        ),
        (
            {"included_cluster_scoped_resources": ["*", "pv"]},
            "included_cluster_scoped_resources",
            "must either be '*' only",
        ),
        (
            {"excluded_namespace_scoped_resources": ["*", "pods"]},
            "excluded_namespace_scoped_resources",
            "must either be '*' only",
        ),
        (
            {"included_namespace_scoped_resources": ["pods"], "excluded_namespace_scoped_resources": ["*"]},
            "excluded_namespace_scoped_resources",
            "when '*' is excluded, nothing can be included",
        ),
        (
            {"included_cluster_scoped_resources": ["pv"], "excluded_cluster_scoped_resources": ["pv"]},
            "excluded_cluster_scoped_resources",
            "pv is both included and excluded",
        ),
        ({"excluded_namespaces": ["*"]}, "excluded_namespaces", "'*' cannot be excluded"),
        ({"included_namespaces": ["Shop"]}, "included_namespaces", "invalid namespace 'Shop'"),
        ({"excluded_namespaces": ["a**"]}, "excluded_namespaces", "a single '*' at a time"),
        ({"included_namespaces": ["a[b"]}, "included_namespaces", "matching ']'"),
        ({"label_selector": "app in (x"}, "label_selector", 'invalid label selector "app in (x"'),
        (
            {"or_label_selectors": ["a=b", "c in (d"]},
            "or_label_selectors",
            'invalid label selector "c in (d"',
        ),
        (
            {"label_selector": "a=b", "or_label_selectors": ["c=d"]},
            "or_label_selectors",
            "a label selector and or-selectors cannot be used together",
        ),
        (
            {"resource_policy": "version: v2\n"},
            "resource_policy",
            "resource policy line 1: version: version 'v2' is not supported",
        ),
        (
            {"resource_policy": POLICY_WITH_LISTS, "excluded_resources": ["secrets"]},
            "resource_policy",
            "includeExcludePolicy cannot be used with include-resources",
        ),
    ],
)
def test_what_veleros_controller_refuses_is_an_error_naming_its_field(spec, field, message):
    errors = spec_errors(BackupSpec(**spec))
    assert any(f == field and message in m for f, m in errors), errors
    with pytest.raises(SpecError, match="."):
        plan([namespace("a")], **spec)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"included_resources": ["*"]},
        {"included_resources": ["pods", "unknown-thing"], "include_cluster_resources": True},
        {"included_cluster_scoped_resources": ["*"], "excluded_namespace_scoped_resources": ["*"]},
        {"or_label_selectors": ["a=b", "c in (d)"], "resource_policy": POLICY_WITH_LISTS},
        {"included_namespaces": ["shop-*", "a?c", "[ab]x"], "excluded_namespaces": ["kube-*"]},
    ],
)
def test_what_velero_accepts_has_no_error(spec):
    assert spec_errors(BackupSpec(**spec)) == []


# --- what Velero accepts but matches nothing ----------------------------------------------------------


def test_warnings_name_the_field_of_each_name_the_cluster_does_not_serve_or_scope_it_does_not_fit():
    table = ManifestSource([]).resources()
    policy = "version: v1\nincludeExcludePolicy:\n  excludedClusterScopedResources: [gizmos, pods]\n"
    spec = BackupSpec(
        included_namespace_scoped_resources=["pods", "widgets", "pv"],
        excluded_cluster_scoped_resources=["nodes", "sprockets"],
        ordered_resources={"gadgets": ["a/b"], "pods": ["a/p"]},
        resource_policy=policy,
    )
    found = spec_warnings(spec, table)
    assert [f for f, _ in found] == [
        "excluded_cluster_scoped_resources",
        "included_namespace_scoped_resources",
        "included_namespace_scoped_resources",
        "ordered_resources",
        "resource_policy",
        "resource_policy",
    ]
    assert [m.split(":")[0] for _, m in found] == [
        "unknown resource 'sprockets' in excluded cluster-scoped resources",
        "unknown resource 'widgets' in included namespace-scoped resources",
        "'pv' in included namespace-scoped resources is cluster-scoped",
        "unknown resource 'gadgets' in ordered resources",
        "unknown resource 'gizmos' in the resource policy's excludedClusterScopedResources",
        "'pods' in the resource policy's excludedClusterScopedResources is namespace-scoped",
    ]


def test_warnings_about_namespaces_need_the_clusters_namespace_names():
    spec = BackupSpec(included_namespaces=["shop", "gone", "blog-*", "x-*"])
    table = ManifestSource([]).resources()
    assert spec_warnings(spec, table) == []
    assert spec_warnings(spec, table, namespaces=["shop", "blog-1"]) == [
        ("included_namespaces", "namespace gone in included namespaces does not exist"),
        ("included_namespaces", "namespace pattern 'x-*' matches no namespace"),
    ]


def test_warnings_never_raise_on_a_spec_velero_refuses():
    spec = BackupSpec(included_resources=["*", "pods"], resource_policy="version: [", label_selector="(")
    assert spec_warnings(spec, ManifestSource([]).resources()) == []


@pytest.mark.parametrize(
    ("includes", "excludes", "search", "found"),
    [
        (["pay*"], [], "payments", True),  # a name, matched as the backup matched it
        (["payments"], [], "pay*", True),  # a glob finds the names it matches
        (["p*"], [], "pay*", True),  # and wider globs
        (["pay*"], [], "pay*", True),
        ([], [], "payments", True),  # everything
        (["*"], [], "pay*", True),
        (["shop"], [], "payments", False),
        (["shop"], [], "pay*", False),
        (["pay*"], ["payments"], "payments", False),  # an exclude wins
        ([], ["pay*"], "pay*", False),  # an exclude covering the whole glob
        ([], ["payments"], "pay*", True),  # pay-east may still be in it
        (["shop-?"], [], "shop-1", True),
    ],
)
def test_may_hold_a_namespace_or_a_glob(includes, excludes, search, found):
    assert NamespaceFilter.of(includes, excludes).may_hold(search) is found


# --- why an item or a type is left out (the preview's reasons) ---------------------------------------


def explained(objects, **spec):
    """(excluded items with why, skipped types with why) as a preview streams them."""
    from backups.engine.planning.itemblocks import stream_item_blocks

    told = []
    walk = stream_item_blocks(
        ManifestSource(objects), BackupSpec(**spec), on_excluded=lambda k, r: told.append((str(k), r))
    )
    blocks = list(walk)
    assert walk.excluded == [] and walk.excluded_count == len(
        [t for t in told if not t[1].startswith(("does", "matches"))]
    )
    return [str(i.key) for b in blocks for i in b.items], told, dict(walk.c.skipped_types)


def test_each_excluded_item_names_the_rule_that_leaves_it_out():
    out = {"velero.io/exclude-from-backup": "true"}
    objects = [namespace("a"), namespace("b"), namespace("quiet", labels=out), pod("a", "p"), pod("b", "q"),
               pod("quiet", "r"), configmap("a", "cm", labels=out), pv("pv-1")]  # fmt: skip
    _, told, skipped = explained(objects, excluded_namespaces=["b*"])
    assert ("pods b/q", "namespace b is in excluded namespaces (b*)") in told
    assert ("pods quiet/r", "namespace quiet is labelled velero.io/exclude-from-backup=true") in told
    assert ("configmaps a/cm", "has label velero.io/exclude-from-backup=true") in told
    assert skipped["persistentvolumes"].startswith("cluster-scoped")
    _, told, skipped = explained(objects, included_namespaces=["a"], excluded_resources=["configmaps"],
                                 include_cluster_resources=False)  # fmt: skip
    assert skipped["configmaps"] == "in excluded resources"
    assert skipped["persistentvolumes"] == "cluster-scoped, and include-cluster-resources is false"
    assert skipped["volumesnapshots.snapshot.storage.k8s.io"].endswith("(auto-excluded type)")


def test_a_label_selector_s_leftovers_are_named_and_the_selected_items_keep_their_order():
    objects = [namespace("a"), pod("a", "x", labels={"app": "x"}), pod("a", "y", labels={"app": "y"}),
               pod("a", "z", labels={"app": "z"})]  # fmt: skip
    kept, told, _ = explained(objects, or_label_selectors=["app=z", "app=x"])
    assert kept == collected(plan(objects, or_label_selectors=["app=z", "app=x"]))
    assert ("pods a/y", "matches no label selector (app=z or app=x)") in told
    _, told, _ = explained(objects, label_selector="app=x")
    assert ("pods a/z", "does not match the label selector app=x") in told


def test_a_type_the_resource_policy_excludes_says_so():
    policy = "version: v1\nincludeExcludePolicy:\n  excludedNamespaceScopedResources: [configmaps]\n"
    objects = [namespace("a"), configmap("a", "cm"), pod("a", "p")]
    kept, _, skipped = explained(objects, resource_policy=policy)
    assert "configmaps a/cm" not in kept
    assert (
        skipped["configmaps"] == "excluded by the resource policy's includeExcludePolicy (namespace-scoped)"
    )
    _, _, skipped = explained(objects, excluded_namespace_scoped_resources=["configmaps"])
    assert skipped["configmaps"] == "in excluded namespace-scoped resources"
