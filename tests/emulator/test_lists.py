import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from emulator import KubeEmulator


def _pods(n_ns=3, per_ns=37):
    objs = []
    for i in range(n_ns):
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{i}"}})
        for j in range(per_ns):
            objs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"pod-{j:03d}",
                        "namespace": f"ns-{i}",
                        "labels": {"tier": ["web", "db", "cache"][j % 3], "idx": str(j)},
                    },
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                }
            )
    return objs


@pytest.fixture(scope="module")
def pods_core(tmp_path_factory):
    from kubernetes import config

    with KubeEmulator(objects=_pods()) as emu:
        path = emu.write_kubeconfig(str(tmp_path_factory.mktemp("kc") / "config"))
        api = config.new_client_from_config(config_file=path)
        yield client.CoreV1Api(api)
        api.close()


def _collect(list_fn, limit, **kw):
    names, pages, cont = [], 0, None
    while True:
        resp = list_fn(limit=limit, _continue=cont, **kw)
        pages += 1
        names += [(i.metadata.namespace, i.metadata.name) for i in resp.items]
        cont = resp.metadata._continue
        if not cont:
            return names, pages, resp


@pytest.mark.parametrize("limit", [1, 10, 37, 111, 500])
def test_pagination_all_namespaces(pods_core, limit):
    names, pages, _ = _collect(pods_core.list_pod_for_all_namespaces, limit)
    assert names == sorted(names) and len(names) == len(set(names)) == 111
    assert pages == -(-111 // limit)


def test_pagination_namespaced_and_remaining_count(pods_core):
    first = pods_core.list_namespaced_pod("ns-1", limit=10)
    assert len(first.items) == 10 and first.metadata.remaining_item_count == 27
    assert first.kind == "PodList" and first.api_version == "v1"
    names, pages, last = _collect(pods_core.list_namespaced_pod, 10, namespace="ns-1")
    assert names == [("ns-1", f"pod-{j:03d}") for j in range(37)] and pages == 4
    assert last.metadata.remaining_item_count is None


def test_list_items_have_no_type_meta(pods_core, raw_get):
    status, raw = raw_get(pods_core.api_client, "/api/v1/namespaces/ns-0/pods", {"limit": 2})
    assert status == 200
    assert raw["kind"] == "PodList" and raw["apiVersion"] == "v1"
    assert all("kind" not in i and "apiVersion" not in i for i in raw["items"])
    assert raw["metadata"]["continue"] and raw["metadata"]["resourceVersion"]


@pytest.mark.parametrize(
    "selector,expected",
    [
        ("tier=web", 13),
        ("tier==web", 13),
        ("tier!=web", 24),
        ("tier in (web,db)", 25),
        ("tier notin (web)", 24),
        ("tier", 37),
        ("!tier", 0),
        ("tier=web,idx in (0,3,6)", 3),
        ("tier notin (web, db),idx", 12),
        ("missing!=x", 37),
        ("idx>30", 6),
    ],
)
def test_label_selectors(pods_core, selector, expected):
    assert len(pods_core.list_namespaced_pod("ns-2", label_selector=selector).items) == expected


def test_label_selector_with_pagination(pods_core):
    names, _, _ = _collect(pods_core.list_pod_for_all_namespaces, 5, label_selector="tier=db")
    assert len(names) == 3 * 12 and names == sorted(names)


@pytest.mark.parametrize("selector", ["tier=", "tier in ()", "=web", "tier in (a", "-bad=x", "a=b=c"])
def test_invalid_label_selector(pods_core, selector):
    if selector in ("tier=", "tier in ()"):  # an empty value is valid, as in apimachinery
        assert pods_core.list_namespaced_pod("ns-0", label_selector=selector).items == []
        return
    with pytest.raises(ApiException) as e:
        pods_core.list_namespaced_pod("ns-0", label_selector=selector)
    assert e.value.status == 400
    assert '"reason":"BadRequest"' in e.value.body.replace(" ", "")


def test_field_selectors(pods_core):
    items = pods_core.list_pod_for_all_namespaces(field_selector="metadata.name=pod-005").items
    assert [(i.metadata.namespace, i.metadata.name) for i in items] == [
        (f"ns-{i}", "pod-005") for i in range(3)
    ]
    assert len(pods_core.list_pod_for_all_namespaces(field_selector="metadata.namespace!=ns-0").items) == 74
    with pytest.raises(ApiException) as e:
        pods_core.list_pod_for_all_namespaces(field_selector="spec.bogus=1")
    assert e.value.status == 400 and "field label not supported" in e.value.body


def test_invalid_continue_token(pods_core):
    with pytest.raises(ApiException) as e:
        pods_core.list_namespaced_pod("ns-0", limit=5, _continue="garbage!")
    assert e.value.status == 400


def test_get_and_not_found(core):
    pod = core.read_namespaced_pod("db-0", "shop")
    assert pod.kind == "Pod" and pod.api_version == "v1" and pod.spec.node_name
    assert pod.metadata.annotations["pre.hook.backup.velero.io/container"] == "postgres"
    assert core.read_namespace("shop").status.phase == "Active"
    assert core.read_persistent_volume("pvc-db-0").spec.claim_ref.name == "data-db-0"
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("nope", "shop")
    assert e.value.status == 404
    body = e.value.body
    assert '"reason": "NotFound"' in body and 'pods \\"nope\\" not found' in body


def test_unknown_resource_is_404(api, raw_get):
    status, body = raw_get(api, "/api/v1/namespaces/shop/frobnicators")
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert raw_get(api, "/apis/nope.example.com/v1")[0] == 404
    assert raw_get(api, "/apis/apps/v9")[0] == 404


def test_sample_cluster_contents(core, api):
    pvcs = core.list_namespaced_persistent_volume_claim(
        "shop", label_selector="velero.io/volume-group=shop-db"
    )
    assert [p.metadata.name for p in pvcs.items] == ["data-db-0", "data-db-1", "data-db-2"]
    assert all(p.status.phase == "Bound" for p in pvcs.items)
    web = core.list_namespaced_pod("shop", label_selector="app.kubernetes.io/name=web").items
    assert len(web) == 2 and all(
        p.spec.volumes[0].persistent_volume_claim.claim_name == "web-uploads" for p in web
    )
    phases = {p.metadata.name: p.status.phase for p in core.list_namespaced_pod("shop").items}
    assert "Succeeded" in phases.values()
    assert core.read_namespaced_persistent_volume_claim("reports-archive", "shop").status.phase == "Pending"
    excluded = core.list_pod_for_all_namespaces(label_selector="velero.io/exclude-from-backup=true").items
    assert [p.metadata.name for p in excluded] == ["debug-shell"]
    crbs = client.RbacAuthorizationV1Api(api).list_cluster_role_binding().items
    assert any(s.name == "db" and s.namespace == "shop" for b in crbs for s in b.subjects)
    assert client.SchedulingV1Api(api).read_priority_class("high-priority").value == 1000000


def test_create_and_delete(emu, api):
    snap = {
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": {"generateName": "data-db-0-"},
        "spec": {
            "volumeSnapshotClassName": "csi-hostpath-snapclass",
            "source": {"persistentVolumeClaimName": "data-db-0"},
        },
    }
    co = client.CustomObjectsApi(api)
    created = co.create_namespaced_custom_object(
        "snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", snap
    )
    name = created["metadata"]["name"]
    assert name.startswith("data-db-0-") and created["metadata"]["uid"]
    with pytest.raises(ApiException) as e:
        co.create_namespaced_custom_object(
            "snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", dict(snap, metadata={"name": name})
        )
    assert e.value.status == 409
    patched = co.patch_namespaced_custom_object_status(
        "snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", name, {"status": {"readyToUse": True}}
    )
    assert patched["status"] == {"readyToUse": True}
    got = co.get_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", name)
    assert got["status"]["readyToUse"] is True
    co.delete_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", name)
    with pytest.raises(ApiException) as e:
        co.get_namespaced_custom_object("snapshot.storage.k8s.io", "v1", "shop", "volumesnapshots", name)
    assert e.value.status == 404
    core = client.CoreV1Api(api)
    cm = core.create_namespaced_config_map(
        "payments", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tmp"}, "data": {"a": "1"}}
    )
    assert cm.metadata.namespace == "payments"
    assert emu.get("configmaps", "payments", "tmp")["data"] == {"a": "1"}
    core.delete_namespaced_config_map("tmp", "payments")
    assert emu.get("configmaps", "payments", "tmp") is None
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(
            "no-such-ns", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tmp"}}
        )
    assert e.value.status == 404


def test_add_and_delete_while_running(emu, core):
    emu.add({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "aaa-new"}, "data": {}})
    items = core.list_namespaced_config_map("default").items
    assert (
        items[0].metadata.name == "aaa-new" and items[0].metadata.uid and items[0].metadata.creation_timestamp
    )
    emu.delete("configmaps", "default", "aaa-new")
    assert [i.metadata.name for i in core.list_namespaced_config_map("default").items] == []
