"""One resource under several groups or versions, and the discovery table a test chooses: what
Velero's cohabitation and preferred-version rules need from an API server."""

from kubernetes import client, config, dynamic

from emulator import SAMPLE_CLUSTER, KubeEmulator


def _resource(group, version, resource, kind, namespaced, **extra):
    return {
        "group": group,
        "version": version,
        "resource": resource,
        "kind": kind,
        "namespaced": namespaced,
        **extra,
    }


def _client_of(emulator, tmp_path):
    kubeconfig = emulator.write_kubeconfig(str(tmp_path / "kc"), context="emulator")
    return config.new_client_from_config(config_file=kubeconfig, context="emulator")


def test_a_given_discovery_table_is_served_instead_of_the_built_in_one(tmp_path):
    """As Velero's test API server: only the resources a test adds exist, here not even namespaces."""
    table = [
        _resource("", "v1", "pods", "Pod", True),
        _resource("apps", "v1", "deployments", "Deployment", True),
    ]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bar", "namespace": "foo"}}
    with KubeEmulator(objects=[pod], resources=table) as emulator:
        api_client = _client_of(emulator, tmp_path)
        try:
            core = {r.name for r in client.CoreV1Api(api_client).get_api_resources().resources}
            assert core == {"pods"}
            assert [g.name for g in client.ApisApi(api_client).get_api_versions().groups] == ["apps"]
            # no Namespace object is needed to create in a namespace when namespaces are not served
            dyn = dynamic.DynamicClient(api_client)
            deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
            deployments.create(
                body={"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "raz"}},
                namespace="zoo",
            )
            assert [
                p.metadata.name for p in client.CoreV1Api(api_client).list_pod_for_all_namespaces().items
            ] == ["bar"]
        finally:
            api_client.close()


def test_a_resource_served_by_two_groups_shares_its_objects_and_answers_in_the_version_asked(
    tmp_path, raw_get
):
    """Kubernetes served deployments under apps and extensions: one set of objects, two names."""
    with KubeEmulator.from_manifests([SAMPLE_CLUSTER]) as emulator:
        emulator.serve("extensions", "v1beta1", "deployments", "Deployment", True, same_as="deployments.apps")
        api_client = _client_of(emulator, tmp_path)
        try:
            groups = {g.name: g for g in client.ApisApi(api_client).get_api_versions().groups}
            assert groups["extensions"].preferred_version.version == "v1beta1"
            status, listed = raw_get(api_client, "/apis/extensions/v1beta1/namespaces/shop/deployments")
            assert status == 200 and listed["apiVersion"] == "extensions/v1beta1"
            assert [d["metadata"]["name"] for d in listed["items"]] == ["web"]
            status, web = raw_get(api_client, "/apis/extensions/v1beta1/namespaces/shop/deployments/web")
            assert status == 200 and web["apiVersion"] == "extensions/v1beta1"
            assert (
                web["metadata"]["uid"] == emulator.get("deployments.apps", "shop", "web")["metadata"]["uid"]
            )
            emulator.delete("deployments.apps", "shop", "web")
            status, _ = raw_get(api_client, "/apis/extensions/v1beta1/namespaces/shop/deployments/web")
            assert status == 404
        finally:
            api_client.close()


def test_a_crd_served_at_two_versions_prefers_the_highest_kube_version_and_converts_reads(tmp_path, raw_get):
    """As apiextensions-apiserver: v1 is preferred over the v1beta1 storage version, and an object
    stored at v1beta1 reads back as v1 through the v1 path."""
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gizmos.example.org"},
        "spec": {
            "group": "example.org",
            "scope": "Namespaced",
            "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
            "versions": [
                {"name": "v1beta1", "served": True, "storage": True},
                {"name": "v1", "served": True, "storage": False},
                {"name": "v1alpha1", "served": True, "storage": False},
            ],
        },
    }
    gizmo = {
        "apiVersion": "example.org/v1beta1",
        "kind": "Gizmo",
        "metadata": {"name": "g", "namespace": "a"},
    }
    with KubeEmulator(objects=[crd, gizmo]) as emulator:
        api_client = _client_of(emulator, tmp_path)
        try:
            group = next(
                g for g in client.ApisApi(api_client).get_api_versions().groups if g.name == "example.org"
            )
            assert [v.version for v in group.versions] == ["v1", "v1beta1", "v1alpha1"]
            assert group.preferred_version.version == "v1"
            for version in ("v1", "v1beta1", "v1alpha1"):
                status, obj = raw_get(api_client, f"/apis/example.org/{version}/namespaces/a/gizmos/g")
                assert status == 200 and obj["apiVersion"] == f"example.org/{version}"
        finally:
            api_client.close()


def test_a_built_in_group_can_prefer_another_version(tmp_path):
    table = [
        _resource("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True),
        _resource(
            "autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, preferred=True
        ),
    ]
    with KubeEmulator(resources=table) as emulator:
        api_client = _client_of(emulator, tmp_path)
        try:
            [group] = client.ApisApi(api_client).get_api_versions().groups
            assert group.preferred_version.version == "v1"
            assert [v.version for v in group.versions] == ["v1", "v2"]
        finally:
            api_client.close()
