"""Offline mode: a set of manifests read as if a cluster were listing them."""

import json
import textwrap
from pathlib import Path

import pytest

from backups.engine.manifests.documents import MAX_DEPTH
from backups.engine.manifests.reader import ManifestError, ManifestSource, load_manifests
from backups.engine.source import SourceError
from emulator import manifests as emulator_manifests
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


GADGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.com"},
    "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "gadgets", "kind": "Gadget"},
             "versions": [{"name": "v2", "served": False}, {"name": "v1", "served": True}]},
}


def test_crd_without_a_storage_version_uses_its_first_served_one():
    gadget = ManifestSource([GADGET_CRD]).resources().resolve("gadgets")
    assert (gadget.version, gadget.namespaced, gadget.singular) == ("v1", False, "gadget")


def test_a_kind_nothing_serves_is_skipped_with_a_warning_naming_it(tmp_path):
    path = write(tmp_path / "odd.yaml", """\
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w, namespace: x}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: kept, namespace: x}
        """)
    warnings = []
    source = load_manifests(path, warn=warnings.append)
    assert names(source, "cm") == ["x/kept"]
    [message] = warnings
    assert message.startswith(f"{path}: Widget x/w: ")
    assert "'Widget'" in message and "'example.com/v1'" in message and message.endswith("; skipped")


def test_an_api_version_the_discovery_table_does_not_serve_is_not_taken_for_another(tmp_path):
    """`v7` is no version of the core group: those config maps are not read as v1 ones."""
    path = write(tmp_path / "cm.yaml", """\
        apiVersion: v7
        kind: ConfigMap
        metadata: {name: future, namespace: x}
        ---
        apiVersion: v7
        kind: ConfigMap
        metadata: {name: future-2, namespace: x}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: today, namespace: x}
        ---
        apiVersion: autoscaling/v1
        kind: HorizontalPodAutoscaler
        metadata: {name: web, namespace: x}
        """)
    warnings = []
    source = load_manifests(path, warn=warnings.append)
    assert names(source, "cm") == ["x/today"]
    assert names(source, "hpa") == ["x/web"]  # autoscaling serves v1 beside its preferred v2
    assert warnings == [
        f"{path}: ConfigMap x/future and 1 more ConfigMap: apiVersion 'v7' kind 'ConfigMap' is not served"
        " (not a built-in resource at that version, and no CustomResourceDefinition in the input defines"
        " it); skipped"
    ]


def test_a_crd_serves_its_kind_at_its_served_versions_only(tmp_path):
    gadgets = [{"apiVersion": f"example.com/{version}", "kind": "Gadget", "metadata": {"name": version}}
               for version in ("v1", "v2", "v3")]
    warnings = []
    source = ManifestSource([GADGET_CRD, *gadgets], warn=warnings.append)
    assert names(source, "gadgets") == ["v1"]
    assert len(warnings) == 2
    assert "Gadget v2: apiVersion 'example.com/v2' kind 'Gadget' is not served" in warnings[0]
    assert "Gadget v3: apiVersion 'example.com/v3'" in warnings[1]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("kind: ConfigMap\nmetadata: {name: [unclosed\n", "invalid YAML in document 1, line 3"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: x}\n---\na: b: c\n",
         "invalid YAML in document 2, line 5"),
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


# --- hostile or odd input: a clear error for the file, or a warning and the object skipped -----------

ALERTMANAGER_CRD = Path(__file__).parent / "alertmanagerconfig-crd.yaml"


@pytest.mark.parametrize("reader", ["events", "PyYAML's loader"])
def test_kube_prometheus_crds_load_with_a_bare_equals_sign_as_a_string(tmp_path, reader):
    """`enum: ['!=', =, =~, '!~']`: PyYAML takes the bare `=` for YAML 1.1's value key and cannot
    construct it; Kubernetes reads the string "=". An explicit tag sends the file to PyYAML's loader."""
    text = ALERTMANAGER_CRD.read_text()
    if reader != "events":
        text = text.replace("  scope: Namespaced", "  scope: !!str Namespaced")
    path = write(tmp_path / "crd.yaml", text)
    warnings = []
    source = load_manifests(path, warn=warnings.append)
    assert warnings == []
    (crd,) = names_and_objects(source, "crd")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    matcher = schema["inhibitRules"]["items"]["properties"]["sourceMatch"]["items"]
    match_type = matcher["properties"]["matchType"]
    assert match_type["enum"] == ["!=", "=", "=~", "!~"]
    (config,) = names_and_objects(source, "amcfg")
    assert config["spec"]["route"]["matchers"][0]["matchType"] == "="


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_nesting_deeper_than_the_limit_is_refused_naming_the_file(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError) as raised:
        load_manifests(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert f"nested deeper than {MAX_DEPTH} levels" in str(raised.value)


def nested_configmap(levels: int) -> str:
    """A config map `levels` deep in all (the object itself is level 1), as JSON (which is YAML)."""
    lists = levels - 1
    return ('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "namespace": "x"}, '
            f'"nested": {"[" * lists}{"]" * lists}}}')


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_the_nesting_limit_is_exact(tmp_path, suffix):
    """MAX_DEPTH levels load, one more does not: the same limit for JSON (orjson's, which also
    reads live clusters) and YAML."""
    deepest = write(tmp_path / f"ok{suffix}", nested_configmap(MAX_DEPTH))
    assert names(load_manifests(deepest), "cm") == ["x/deep"]
    too_deep = write(tmp_path / f"too-deep{suffix}", nested_configmap(MAX_DEPTH + 1))
    with pytest.raises(ManifestError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_manifests(too_deep)


def test_deep_yaml_behind_an_anchor_or_an_alias_is_refused(tmp_path):
    anchored = write(tmp_path / "anchored.yaml", "a: &deep " + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_manifests(anchored)
    # each alone is within the limit, the alias puts one inside the other
    half = MAX_DEPTH // 2 + 1
    text = f"a: &half {'[' * half}{']' * half}\nb: {'[' * half}*half{']' * half}"
    aliased = write(tmp_path / "aliased.yaml", text)
    with pytest.raises(ManifestError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_manifests(aliased)


BILLION_LAUGHS = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: lol, namespace: x}
data:
  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize("reader", ["events", "PyYAML's loader"])
def test_an_alias_bomb_is_refused(tmp_path, reader):
    """Billion laughs: nine lines whose aliases expand to 435 million nodes, refused by go-yaml's
    rule (the YAML reader of Kubernetes) before anything walks them."""
    text = BILLION_LAUGHS
    if reader != "events":
        text = text.replace("kind: ConfigMap", "kind: !!str ConfigMap")
    path = write(tmp_path / "lol.yaml", text)
    with pytest.raises(ManifestError) as raised:
        load_manifests(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: document 1: excessive aliasing: aliases expand to ")
    assert message.endswith("refused as an alias bomb")


@pytest.mark.parametrize("reader", ["events", "PyYAML's loader"])
def test_an_alias_inside_its_own_anchor_is_refused(tmp_path, reader):
    tag = "!!str " if reader != "events" else ""
    path = write(tmp_path / "loop.yaml", f"apiVersion: v1\nkind: {tag}ConfigMap\nmetadata: &m {{name: *m}}\n")
    expected = r"loop\.yaml: document 1: alias \*m inside its own anchor \(line 3\)"
    with pytest.raises(ManifestError, match=expected):
        load_manifests(path)


def test_ordinary_anchors_and_aliases_are_read_without_the_full_loader(tmp_path):
    path = write(tmp_path / "shared.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: a, namespace: x, labels: &labels {app: web, tier: front}}
        data: &data {mode: fast}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: b, namespace: x, labels: &labels {app: db}}
        data: {shared: yes}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: s, namespace: x, labels: &l {app: web}}
        type: &t Opaque
        stringData: {type: *t, again: *t}
        """)
    source = load_manifests(path)
    assert names(source, "cm", selector="app=web") == ["x/a"]
    (secret,) = names_and_objects(source, "secrets")
    assert secret["stringData"] == {"type": "Opaque", "again": "Opaque"}


LABELS_A_LIST = "metadata.labels must map strings to strings, not be a list"
WRONG_TYPES = [
    (lambda o: o["metadata"].update(labels=["app", "web"]), LABELS_A_LIST),
    (lambda o: o["metadata"].update(labels={"version": 2}),
     "metadata.labels must map strings to strings, not be a mapping"),
    (lambda o: o["metadata"].update(annotations="none"),
     "metadata.annotations must map strings to strings, not be the string 'none'"),
    (lambda o: o.update(spec="replicas: 3"), "spec is the string 'replicas: 3', not a mapping"),
    (lambda o: o.update(status=["Running"]), "status is a list, not a mapping"),
    (lambda o: o["metadata"].update(namespace=7), "metadata.namespace is the number 7, not a string"),
    (lambda o: o["spec"].update(volumes="data"), "spec.volumes is the string 'data', not a list"),
    (lambda o: o["spec"]["volumes"].append("data"), "spec.volumes[1] is the string 'data', not a mapping"),
    (lambda o: o["spec"]["volumes"][0]["persistentVolumeClaim"].update(claimName=["data"]),
     "spec.volumes[0].persistentVolumeClaim.claimName is a list, not a string"),
    (lambda o: o["spec"].update(containers={"name": "app"}), "spec.containers is a mapping, not a list"),
    (lambda o: o["spec"].update(priorityClassName=1000),
     "spec.priorityClassName is the number 1000, not a string"),
]


@pytest.mark.parametrize(("change", "problem"), WRONG_TYPES)
def test_a_field_of_the_wrong_type_skips_that_object_with_a_warning_naming_it(tmp_path, change, problem):
    bad = pod("shop", "web-0", claims=["data"])
    change(bad)
    objects = [bad, pod("shop", "web-1"), configmap("shop", "settings")]
    path = write(tmp_path / "shop.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    warnings = []
    source = load_manifests(path, warn=warnings.append)
    namespace = bad["metadata"]["namespace"]
    label = f"Pod {namespace}/web-0" if isinstance(namespace, str) else "Pod web-0"
    assert warnings == [f"{path}: {label}: {problem}; skipped"]
    assert names(source, "pods") == ["shop/web-1"]
    assert names(source, "cm") == ["shop/settings"]


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 42, namespace: x}\n",
         "document 1 (ConfigMap): metadata.name is the number 42, not a string; skipped"),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", "document 1 (ConfigMap): no metadata; skipped"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: [x]\n",
         "document 1 (ConfigMap): metadata is a list, not a mapping; skipped"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n",
         "document 1 (ConfigMap): no metadata.name; skipped"),
        ("metadata: {name: x}\n", "document 1: no apiVersion and kind (keys: metadata); skipped"),
        ("- just\n- a list\n", "document 1 is a list, not a Kubernetes object; skipped"),
        ("apiVersion: v1\nkind: List\nitems: {a: b}\n",
         "document 1 (List): items is a mapping, not a list; skipped"),
        ("apiVersion: v1\nkind: List\nitems: [3]\n",
         "item 1 of List (document 1) is the number 3, not a Kubernetes object; skipped"),
        ("apiVersion: v1\nkind: ConfigMapList\nitems: [{metadata: {name: [a]}}]\n",
         "item 1 of ConfigMapList (document 1) (ConfigMap): metadata.name is a list, not a string; skipped"),
        ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\n"
         "subjects: {kind: ServiceAccount}\n",
         "ClusterRoleBinding b: subjects is a mapping, not a list; skipped"),
        ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
         "metadata: {name: w.example.com}\n"
         "spec: {group: example.com, names: {kind: Widget}, versions: [{name: v1, served: true}]}\n",
         "CustomResourceDefinition w.example.com: a CustomResourceDefinition needs spec.group,"
         " spec.names.plural and spec.names.kind; skipped"),
    ],
)
def test_a_document_that_is_no_object_is_skipped_and_the_file_goes_on(tmp_path, text, warning):
    good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok, namespace: x}\n"
    path = write(tmp_path / "odd.yaml", f"{text}---\n{good}")
    warnings = []
    source = load_manifests(path, warn=warnings.append)
    assert warnings == [f"{path}: {warning}"]
    assert names(source, "cm") == ["x/ok"]


def test_the_emulator_seeds_only_what_the_reader_accepts(tmp_path):
    """emulator/manifests.py reads through `read_objects` and `served_objects`: the same warnings."""
    write(tmp_path / "a.yaml", """\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: ok, namespace: x}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: listed, namespace: x, labels: [a]}
        ---
        apiVersion: v7
        kind: ConfigMap
        metadata: {name: future, namespace: x}
        """)
    warnings = []
    objects = emulator_manifests.load_manifests([tmp_path], warn=warnings.append)
    assert [o["metadata"]["name"] for o in objects] == ["ok"]
    assert warnings[0] == f"{tmp_path / 'a.yaml'}: ConfigMap x/listed: {LABELS_A_LIST}; skipped"
    assert warnings[1].startswith("ConfigMap x/future: apiVersion 'v7' kind 'ConfigMap' is not served")
