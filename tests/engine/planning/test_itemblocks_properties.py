"""Properties that hold for any cluster: blocks partition the included items."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.objects import (
    cluster_role,
    cluster_role_binding,
    configmap,
    namespace,
    pod,
    pv,
    pvc,
    service_account,
)
from tests.engine.sources import plan

NAMESPACES = ["a", "b", "c"]


@st.composite
def clusters(draw):
    objects = [namespace(ns) for ns in NAMESPACES]
    volumes = []
    for ns in NAMESPACES:
        claims = [f"c{i}" for i in range(draw(st.integers(0, 5)))]
        for claim in claims:
            bound = draw(st.booleans())
            group = draw(st.sampled_from([None, "g1", "g2"]))
            volume = f"pv-{ns}-{claim}" if bound else None
            if volume and draw(st.integers(0, 4)):  # sometimes the volume is missing from the cluster
                volumes.append(volume)
            objects.append(
                pvc(ns, claim, volume, labels={"velero.io/volume-group": group} if group else None)
            )
        for i in range(draw(st.integers(0, 5))):
            mounts = draw(st.lists(st.sampled_from(claims), max_size=3, unique=True)) if claims else []
            labels = {"app": draw(st.sampled_from(["x", "y"]))}
            if not draw(st.integers(0, 9)):
                labels["velero.io/exclude-from-backup"] = "true"
            objects.append(pod(ns, f"p{i}", mounts, running=draw(st.booleans()), labels=labels))
        for i in range(draw(st.integers(0, 2))):
            objects.append(service_account(ns, f"sa{i}"))
            objects.append(configmap(ns, f"cm{i}"))
    objects += [pv(v) for v in volumes]
    for i in range(draw(st.integers(0, 3))):
        subjects = draw(
            st.lists(st.tuples(st.sampled_from(NAMESPACES), st.sampled_from(["sa0", "sa1"])), max_size=3)
        )
        objects.append(cluster_role_binding(f"crb{i}", f"role{i % 2}", *subjects))
    objects += [cluster_role("role0"), cluster_role("role1")]
    return objects


def key_name(o):
    meta = o["metadata"]
    return (o["kind"], meta.get("namespace", ""), meta["name"])


def placed(result):
    in_blocks = [(i.key.resource, i.key.namespace, i.key.name) for b in result.blocks for i in b.items]
    excluded = [(k.resource, k.namespace, k.name) for k in result.excluded]
    return in_blocks, excluded


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clusters(),
    st.sampled_from(
        [
            {},
            {"included_namespaces": ["a", "b"]},
            {"label_selector": "app=x"},
            {"excluded_resources": ["pv"]},
            {"volume_group_label_key": ""},
        ]
    ),
)
def test_blocks_partition_the_items(objects, spec):
    result = plan(objects, **spec)
    in_blocks, excluded = placed(result)
    every = in_blocks + excluded
    assert len(every) == len(set(every)), "an item is in two places"
    assert all(len(b.items) for b in result.blocks), "an empty block"
    for block in result.blocks:
        assert block.items[0].parent is None
        for position, item in enumerate(block.items[1:], start=1):
            assert item.parent is not None and item.parent < position, "joined before its parent"
    if not spec:
        # a full backup reaches every object: each is in exactly one block or excluded
        resources = {
            "Namespace": "namespaces",
            "Pod": "pods",
            "PersistentVolumeClaim": "persistentvolumeclaims",
            "PersistentVolume": "persistentvolumes",
            "ConfigMap": "configmaps",
            "ServiceAccount": "serviceaccounts",
            "ClusterRole": "clusterroles",
            "ClusterRoleBinding": "clusterrolebindings",
        }
        expected = {(resources[k], ns, n) for k, ns, n in map(key_name, objects)}
        assert set(every) == expected
    labelled_out = {
        ("pods", o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "Pod" and o["metadata"]["labels"].get("velero.io/exclude-from-backup")
    }
    assert not labelled_out & set(in_blocks), "an item labelled for exclusion was backed up"
    if spec.get("included_namespaces"):
        assert all(ns in ("", "a", "b") for _, ns, _ in in_blocks)
    if spec.get("excluded_resources"):
        assert not any(r == "persistentvolumes" for r, _, _ in in_blocks)


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_claims_only_pull_in_running_pods_and_pods_pull_in_their_claims(objects):
    running = {
        (o["metadata"]["namespace"], o["metadata"]["name"])
        for o in objects
        if o["kind"] == "Pod" and o["status"]["phase"] == "Running"
    }
    result = plan(objects)
    for block in result.blocks:
        for item in block.items:
            if item.reason == "mounted by":
                assert (item.key.namespace, item.key.name) in running
            if item.parent is not None and item.key.resource == "persistentvolumes":
                assert block.items[item.parent].key.resource == "persistentvolumeclaims"
