"""Offline mode: a set of manifests read as if a cluster were listing them."""

import json
import textwrap

import pytest

from backups.engine.manifests import ManifestError, ManifestSource, load_manifests
from backups.engine.source import SourceError
from tests.engine.objects import configmap, pod, pv, pvc

WIDGET_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
    - {name: v1beta1, served: true, storage: false}
    - {name: v1, served: true, storage: true}
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def names(source, resource, namespace=None, selector=None):
    info = source.resources().resolve(resource)
    return [
        "/".join(filter(None, [o["metadata"].get("namespace"), o["metadata"]["name"]]))
        for o in source.list(info, namespace, selector)
    ]


def test_multi_document_yaml_is_listed_per_resource_in_namespace_then_name_order(tmp_path):
    path = write(tmp_path / "app.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: b, namespace: shop}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: a, namespace: shop}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: z, namespace: bank}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: shop}
        """)
    source = load_manifests(path)
    assert names(source, "configmaps") == ["bank/z", "shop/a", "shop/b"]
    assert names(source, "configmaps", "shop") == ["shop/a", "shop/b"]
    assert names(source, "configmaps", "nowhere") == []
    assert names(source, "secrets") == ["shop/s"]
    assert names(source, "pods") == []


def test_kubectl_list_dump_is_expanded(tmp_path):
    dump = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": [pod("shop", "web-0", claims=["data"]), pvc("shop", "data", volume="pv-1"), pv("pv-1")]}
    source = load_manifests(write(tmp_path / "dump.json", json.dumps(dump)))
    assert names(source, "pods") == ["shop/web-0"]
    assert names(source, "pvc") == ["shop/data"]
    assert names(source, "pv") == ["pv-1"]


def test_typed_api_list_gives_its_kind_and_api_version_to_items(tmp_path):
    path = write(tmp_path / "deployments.yaml", """\
        apiVersion: apps/v1
        kind: DeploymentList
        metadata: {resourceVersion: "12"}
        items:
          - metadata: {name: web, namespace: shop}
        """)
    (deployment,) = load_manifests(path).list(load_manifests(path).resources().resolve("deploy"))
    assert deployment["apiVersion"] == "apps/v1"
    assert deployment["kind"] == "Deployment"


def test_folder_is_read_recursively_ignoring_other_files(tmp_path):
    write(tmp_path / "a" / "one.yml",
          "{apiVersion: v1, kind: ConfigMap, metadata: {name: one, namespace: x}}")
    write(tmp_path / "b" / "c" / "two.json", json.dumps(configmap("x", "two")))
    write(tmp_path / "README.md", "not a manifest: [")
    write(tmp_path / "notes.txt", "{{{")
    assert names(load_manifests(tmp_path), "cm") == ["x/one", "x/two"]


def test_several_paths_are_one_cluster(tmp_path):
    first = write(tmp_path / "1.yaml", json.dumps(configmap("x", "one")))
    second = write(tmp_path / "2.yaml", json.dumps(configmap("x", "two")))
    assert names(load_manifests([first, second]), "cm") == ["x/one", "x/two"]


def test_get_finds_one_object_or_none(tmp_path):
    source = ManifestSource([configmap("x", "a"), configmap("y", "a"), pv("pv-1")])
    table = source.resources()
    assert source.get(table.resolve("cm"), "y", "a")["metadata"]["namespace"] == "y"
    assert source.get(table.resolve("cm"), "z", "a") is None
    assert source.get(table.resolve("cm"), "x", "b") is None
    assert source.get(table.resolve("pv"), None, "pv-1")["metadata"]["name"] == "pv-1"
    assert source.get(table.resolve("pods"), "x", "a") is None


def test_label_selector_filters_lists():
    source = ManifestSource([
        configmap("x", "web", labels={"app": "web"}),
        configmap("x", "db", labels={"app": "db"}),
        configmap("x", "bare"),
    ])
    assert names(source, "cm", selector="app=web") == ["x/web"]
    assert names(source, "cm", selector="app notin (web)") == ["x/bare", "x/db"]
    assert names(source, "cm", selector="!app") == ["x/bare"]


def test_invalid_label_selector_fails_the_list_as_the_api_server_would():
    source = ManifestSource([configmap("x", "web")])
    with pytest.raises(SourceError) as raised:
        names(source, "cm", "x", "app in (web")
    assert raised.value.status == 400
    assert raised.value.resource == "configmaps"
    assert 'invalid label selector "app in (web"' in str(raised.value)


def test_custom_resources_are_served_once_their_crd_is_in_the_input(tmp_path):
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: x}"
    write(tmp_path / "1-widgets.yaml", widget)
    write(tmp_path / "2-crd.yaml", WIDGET_CRD)
    source = load_manifests(tmp_path)
    table = source.resources()
    widget = table.resolve("wd")
    assert (widget.group_resource, widget.version, widget.kind, widget.namespaced) == (
        "widgets.example.com", "v1", "Widget", True)
    assert widget.backupable
    assert table.resources[-1] == widget  # after the built-ins
    assert names(source, "widgets.example.com") == ["x/w"]
    assert names(source, "crd") == ["widgets.example.com"]


def test_crd_without_a_storage_version_uses_its_first_served_one():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "gadgets", "kind": "Gadget"},
                 "versions": [{"name": "v2", "served": False}, {"name": "v1", "served": True}]},
    }
    gadget = ManifestSource([crd]).resources().resolve("gadgets")
    assert (gadget.version, gadget.namespaced, gadget.singular) == ("v1", False, "gadget")


def test_unknown_kind_names_the_kind_api_version_and_file(tmp_path):
    path = write(tmp_path / "odd.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}")
    with pytest.raises(ManifestError) as raised:
        load_manifests(path)
    message = str(raised.value)
    assert "'Widget'" in message and "'example.com/v1'" in message and str(path) in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kind: ConfigMap\nmetadata: {name: [unclosed\n", "invalid YAML in document 1, line 3"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: x}\n---\na: b: c\n",
         "invalid YAML in document 2, line 5"),
        ("- just\n- a list\n", "document 1 is a list, not a Kubernetes object"),
        ("metadata: {name: x}\n", "object without apiVersion and kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n", "ConfigMap (v1) without metadata"),
        ("apiVersion: v1\nkind: List\nitems: [3]\n", "item 1 of List is not a Kubernetes object"),
    ],
)
def test_bad_yaml_is_one_line_naming_the_file_and_where(tmp_path, text, named):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ManifestError) as raised:
        load_manifests(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert named in message
    assert "\n" not in message


def test_bad_json_names_the_line(tmp_path):
    path = write(tmp_path / "bad.json", '{\n  "apiVersion": "v1",\n  "kind": \n}')
    with pytest.raises(ManifestError, match=r"bad\.json: invalid JSON at line 4"):
        load_manifests(path)


def test_missing_path_and_unreadable_bytes_are_manifest_errors(tmp_path):
    with pytest.raises(ManifestError, match="no such file or folder"):
        load_manifests(tmp_path / "nope.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00\x00garbage\x80")
    with pytest.raises(ManifestError, match=r"binary\.yaml: invalid YAML"):
        load_manifests(tmp_path / "binary.yaml")
    with pytest.raises(ManifestError, match="no manifest paths"):
        load_manifests([])


def test_yaml_scalars_read_as_kubernetes_reads_them(tmp_path):
    path = write(tmp_path / "cm.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
          namespace: x
          creationTimestamp: 2024-05-01T10:00:00Z
        data: {count: "3", flag: "true"}
        spec: {replicas: 3, ratio: 0.5, enabled: true, nothing: null, hex: 0x1f}
        """)
    (obj,) = names_and_objects(load_manifests(path), "cm")
    assert obj["metadata"]["creationTimestamp"] == "2024-05-01T10:00:00Z"  # a string, not a datetime
    assert obj["data"] == {"count": "3", "flag": "true"}
    assert obj["spec"] == {"replicas": 3, "ratio": 0.5, "enabled": True, "nothing": None, "hex": 31}
    json.dumps(obj["metadata"])


def test_yaml_anchors_and_merge_keys_still_load(tmp_path):
    path = write(tmp_path / "anchors.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata: &meta {name: c, namespace: x, labels: {app: web}}
        data:
          <<: {a: "1"}
          b: !!str 2
        """)
    (obj,) = names_and_objects(load_manifests(path), "cm")
    assert obj["data"] == {"a": "1", "b": "2"}
    assert obj["metadata"]["labels"] == {"app": "web"}


def names_and_objects(source, resource):
    return list(source.list(source.resources().resolve(resource)))


def test_namespaced_object_without_namespace_lands_in_default_and_cluster_objects_drop_theirs():
    orphan = configmap("", "loose")
    del orphan["metadata"]["namespace"]
    volume = pv("pv-1")
    volume["metadata"]["namespace"] = "shop"
    source = ManifestSource([orphan, volume])
    assert names(source, "cm", "default") == ["default/loose"]
    assert names(source, "pv") == ["pv-1"]


def test_an_object_given_twice_keeps_the_last_copy():
    first, second = configmap("x", "a", labels={"v": "1"}), configmap("x", "a", labels={"v": "2"})
    source = ManifestSource([first, second])
    (obj,) = names_and_objects(source, "cm")
    assert obj["metadata"]["labels"] == {"v": "2"}


def test_older_api_versions_of_a_kind_index_under_the_preferred_resource():
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "namespace": "x"}}
    assert names(ManifestSource([hpa]), "hpa") == ["x/web"]


def test_a_large_dump_lists_per_namespace_and_gets_by_name(tmp_path):
    items = [configmap(f"ns-{i % 100:03}", f"cm-{i:05}") for i in range(20_000)]
    path = write(tmp_path / "dump.yaml", json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    source = load_manifests(path)
    cm = source.resources().resolve("cm")
    objects = list(source.list(cm, "ns-007"))
    assert len(objects) == 200 and all(o["metadata"]["namespace"] == "ns-007" for o in objects)
    assert source.get(cm, "ns-042", "cm-00042") is not None
    assert len(source) == 20_000


def test_namespaces_holding_objects_can_be_made_to_exist_when_the_input_leaves_them_out():
    labelled = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bank", "labels": {"t": "1"}}}
    objects = [labelled, configmap("bank", "a"), configmap("shop", "b"), pv("pv-1")]
    assert names(ManifestSource(objects), "namespaces") == ["bank"]
    source = ManifestSource(objects, add_missing_namespaces=True)
    assert names(source, "namespaces") == ["bank", "shop"]
    assert source.get(source.resources().resolve("ns"), None, "bank")["metadata"]["labels"] == {"t": "1"}
