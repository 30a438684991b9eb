from kubernetes import client, config, dynamic

from backups.engine.manifests.discovery_table import BUILTIN_RESOURCES


def test_load_kube_config_and_version(emu, kubeconfig):
    config.load_kube_config(config_file=kubeconfig, context="emulator")
    version = client.VersionApi().get_code()
    assert version.major == "1" and version.minor == "31"
    assert client.Configuration.get_default_copy().host == emu.url


def test_core_and_group_discovery(api):
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    for name in (
        "apps",
        "batch",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "policy",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "apiextensions.k8s.io",
        "snapshot.storage.k8s.io",
        "autoscaling",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "example.com",
    ):
        assert name in groups, name
    assert groups["autoscaling"].preferred_version.version == "v2"
    assert [v.version for v in groups["autoscaling"].versions] == ["v2", "v1"]
    assert groups["example.com"].preferred_version.version == "v1"


def test_core_resource_list_has_subresources(api):
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    pods = resources["pods"]
    assert pods.kind == "Pod" and pods.namespaced and pods.singular_name == "pod"
    assert pods.short_names == ["po"] and "list" in pods.verbs
    for sub in ("pods/exec", "pods/log", "pods/status", "pods/eviction"):
        assert sub in resources
    assert resources["pods/exec"].kind == "PodExecOptions"
    assert not resources["persistentvolumes"].namespaced


def test_every_builtin_resource_is_discoverable(api, raw_get):
    raw = {}
    for r in BUILTIN_RESOURCES:
        gv = f"/apis/{r['group']}/{r['version']}" if r["group"] else "/api/v1"
        if gv not in raw:
            status, data = raw_get(api, gv)
            assert status == 200
            raw[gv] = {x["name"]: x for x in data["resources"]}
        assert raw[gv][r["resource"]]["kind"] == r["kind"]


def test_dynamic_client_lists_builtin_and_crd(api):
    dyn = dynamic.DynamicClient(api)
    sts = dyn.resources.get(api_version="apps/v1", kind="StatefulSet")
    assert [i.metadata.name for i in sts.get(namespace="shop").items] == ["db"]
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    assert widgets.namespaced
    items = widgets.get(namespace="shop").items
    assert [i.metadata.name for i in items] == ["blue-widget", "green-widget", "red-widget"]
    vsc = dyn.resources.get(api_version="snapshot.storage.k8s.io/v1", kind="VolumeSnapshotClass")
    assert vsc.get().items[0].driver == "hostpath.csi.k8s.io"


def test_crd_added_at_runtime_is_served(emu, api):
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.tools.example.org"},
        "spec": {
            "group": "tools.example.org",
            "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {"name": "v1alpha1", "served": True, "storage": False},
                {"name": "v1", "served": True, "storage": True},
            ],
        },
    }
    emu.add(crd)
    try:
        emu.add({"apiVersion": "tools.example.org/v1", "kind": "Gadget", "metadata": {"name": "g1"}})
        group = next(
            g for g in client.ApisApi(api).get_api_versions().groups if g.name == "tools.example.org"
        )
        assert group.preferred_version.version == "v1"
        objs = client.CustomObjectsApi(api).list_cluster_custom_object("tools.example.org", "v1", "gadgets")
        assert [o["metadata"]["name"] for o in objs["items"]] == ["g1"]
        assert objs["kind"] == "GadgetList" and "kind" not in objs["items"][0]
        assert "namespace" not in objs["items"][0]["metadata"]
    finally:
        emu.delete("gadgets.tools.example.org", None, "g1")
        emu.delete("customresourcedefinitions.apiextensions.k8s.io", None, "gadgets.tools.example.org")
    assert "tools.example.org" not in {g.name for g in client.ApisApi(api).get_api_versions().groups}
