"""`manage.py preview_blocks`: the blocks a backup would run, computed from manifests."""

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.engine.objects import configmap, namespace, pod, pv, pvc

REPO = Path(__file__).resolve().parents[2]

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [{"name": "v1", "served": True, "storage": True}],
    },
}


def key(resource, ns, name, group="", version="v1"):
    return {"group": group, "version": version, "resource": resource, "namespace": ns, "name": name}


@pytest.fixture
def cluster(tmp_path):
    """A `kubectl get -A -o json` dump: a pod with a bound PVC, and a configmap."""
    items = [
        namespace("shop"),
        namespace("bank"),
        pod("shop", "web-0", claims=["data-web-0"]),
        pvc("shop", "data-web-0", volume="pv-1"),
        pv("pv-1"),
        configmap("shop", "settings"),
        configmap("bank", "rates", labels={"app": "rates"}),
    ]
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return path


def preview(*args):
    out, err = StringIO(), StringIO()
    call_command("preview_blocks", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run(*args):
    """The command as a user runs it, for exit codes and what reaches the terminal."""
    return subprocess.run(
        [sys.executable, "manage.py", "preview_blocks", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def blocks(output):
    return [block["items"] for block in json.loads(output)["blocks"]]


def test_pod_pvc_and_pv_form_one_block_in_that_order_and_a_configmap_stands_alone(cluster):
    out, err = preview("--manifests", cluster, "--include-namespaces", "shop", "--output", "json")
    assert json.loads(out).keys() == {"blocks", "excluded", "dry_run"}
    found = blocks(out)
    assert found[0] == [
        key("pods", "shop", "web-0"),
        key("persistentvolumeclaims", "shop", "data-web-0"),
        key("persistentvolumes", "", "pv-1"),
    ]
    assert [key("configmaps", "shop", "settings")] in found
    assert err == ""


def test_namespace_filter_keeps_other_namespaces_out(cluster):
    out, _ = preview("--manifests", cluster, "--exclude-namespaces", "shop")
    names = {(item["resource"], item["namespace"], item["name"]) for block in blocks(out) for item in block}
    assert ("configmaps", "bank", "rates") in names
    assert not any(ns == "shop" for _, ns, _ in names)


def test_label_selector_limits_the_items(cluster):
    out, _ = preview("--manifests", cluster, "--selector", "app=rates", "--include-resources", "configmaps")
    assert blocks(out) == [[key("configmaps", "bank", "rates")]]


def test_table_output_summarises_then_lists_each_block(cluster):
    out, _ = preview("--manifests", cluster, "--include-namespaces", "shop", "--output", "table")
    lines = out.splitlines()
    assert lines[0].startswith("3 blocks, 5 items, 0 excluded, 0 warnings")
    assert lines[2].split() == ["RESOURCE", "ITEMS"]  # the dry run's counts, then what the run adds
    assert lines[3].split() == ["configmaps", "1"]
    lines = lines[lines.index("", 3) + 1 :]
    assert lines[0] == "ADDED AT RUN TIME: 0 (expected in the backup: 5 items)"
    lines = lines[lines.index("") - 1 :]
    assert lines[3].split()[:4] == ["1", "3", "pods", "shop/web-0"]
    assert "persistentvolumeclaims shop/data-web-0" in lines[4]
    assert "persistentvolumes pv-1" in lines[5]
    assert any(line.split()[2:4] == ["configmaps", "shop/settings"] for line in lines[6:])


def test_yaml_list_dump_and_custom_resources_are_read(tmp_path):
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "shop"},
    }
    dump = {"apiVersion": "v1", "kind": "List", "items": [namespace("shop"), WIDGET_CRD, widget]}
    path = tmp_path / "dump.yaml"
    path.write_text(json.dumps(dump))  # JSON is YAML
    out, _ = preview("--manifests", path, "--include-namespaces", "shop")
    assert [key("widgets", "shop", "w", group="example.com")] in blocks(out)


def test_warnings_from_the_plan_go_to_stderr(cluster):
    out, err = preview("--manifests", cluster, "--ordered-resources", "pods=shop/web-0,shop/missing")
    assert "shop/missing" in err
    assert json.loads(out)["blocks"][0]["items"][0] == key("pods", "shop", "web-0")


def test_an_unknown_resource_is_a_warning_and_matches_nothing(cluster):
    """As Velero: the name is kept as given and the preview goes on."""
    out, err = preview("--manifests", cluster, "--include-resources", "pods,foos")
    assert err.strip() == (
        "warning: unknown resource 'foos' in included resources: the cluster does not serve it, "
        "so it matches nothing"
    )
    assert {i["resource"] for b in json.loads(out)["blocks"] for i in b["items"]} == {"pods"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--selector", "app in (web"], 'invalid label selector "app in (web"'),
        (["--ordered-resources", "pods"], "invalid ordered resources 'pods'"),
        (["--include-cluster-resources", "maybe"], "invalid include-cluster-resources 'maybe'"),
    ],
)
def test_bad_options_exit_non_zero_with_one_line_naming_the_problem(cluster, args, named):
    result = run("--manifests", cluster, *args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0
    assert named in result.stderr


def test_unreadable_yaml_and_missing_paths_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [x\n")
    for path, named in [
        (broken, f"{broken}: invalid YAML in document 1"),
        (tmp_path / "gone.yaml", "gone.yaml: no such file or folder"),
    ]:
        result = run("--manifests", path)
        assert result.returncode != 0
        assert result.stderr.strip().count("\n") == 0
        assert named in result.stderr


def test_a_kind_nothing_serves_is_a_warning_and_the_rest_is_previewed(tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: x}\n---\n"
        "apiVersion: v7\nkind: ConfigMap\nmetadata: {name: future, namespace: x}\n---\n"
        + json.dumps(configmap("x", "today"))
    )
    result = run("--manifests", path)
    assert result.returncode == 0, result.stderr
    assert [key("configmaps", "x", "today")] in blocks(result.stdout)
    assert not any(item["name"] == "future" for block in blocks(result.stdout) for item in block)
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert warnings[0].startswith(f"warning: {path}: Widget x/w: apiVersion 'example.com/v1' kind 'Widget'")
    assert warnings[1].startswith(f"warning: {path}: ConfigMap x/future: apiVersion 'v7' kind 'ConfigMap'")


ALERTMANAGER_CRD = REPO / "tests" / "engine" / "manifests" / "alertmanagerconfig-crd.yaml"


def test_kube_prometheus_crds_are_previewed(tmp_path):
    """Their operator enums hold a bare `=`, which PyYAML alone cannot read."""
    result = run("--manifests", ALERTMANAGER_CRD, "--include-namespaces", "monitoring")
    assert result.returncode == 0, result.stderr
    assert [
        key("alertmanagerconfigs", "monitoring", "team-a", group="monitoring.coreos.com", version="v1alpha1")
    ] in blocks(result.stdout)
    assert result.stderr == ""


def test_objects_with_fields_of_the_wrong_type_are_skipped_with_a_warning_each(tmp_path):
    listed = configmap("shop", "listed")
    listed["metadata"]["labels"] = ["app", "web"]
    unnamed = configmap("shop", "unnamed")
    unnamed["metadata"]["name"] = 42
    volumes = pod("shop", "web-0")
    volumes["spec"] = "volumes: data"
    dump = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [listed, unnamed, volumes, {"kind": "Secret"}, configmap("shop", "settings")],
    }
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(dump))
    result = run("--manifests", path, "--output", "table")
    assert result.returncode == 0, result.stderr
    assert "configmaps shop/settings" in result.stdout and "listed" not in result.stdout
    assert result.stderr.splitlines() == [
        f"warning: {path}: ConfigMap shop/listed: metadata.labels must map strings to strings, not be a list;"
        " skipped",
        f"warning: {path}: item 2 of List (document 1) (ConfigMap): metadata.name is the number 42, not a"
        " string; skipped",
        f"warning: {path}: Pod shop/web-0: spec is the string 'volumes: data', not a mapping; skipped",
        f"warning: {path}: item 4 of List (document 1) (Secret): no apiVersion; skipped",
    ]


LAUGHS = "".join(f"l{n}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(9))
HOSTILE = {
    "deep.json": ("[" * 100_000 + "]" * 100_000, "invalid JSON at line 1, column 1026: nested deeper than"),
    "deep.yaml": ("a: &deep " + "[" * 100_000 + "]" * 100_000, "document 1: nested deeper than 1024 levels"),
    "lol.yaml": (f"lol: &a [{', '.join(['lol'] * 10)}]\n{LAUGHS}", "document 1: excessive aliasing"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_is_one_line_and_exit_code_1_never_a_crash(tmp_path, name):
    """A traceback (RecursionError), a SIGSEGV (-11, PyYAML's C composer) or minutes spent walking
    a billion laughs, before: now exit code 1 and one line naming the file and the limit."""
    text, named = HOSTILE[name]
    path = tmp_path / name
    path.write_text(text)
    result = run("--manifests", path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0, result.stderr[-2000:]
    assert result.stderr.startswith(f"CommandError: {path}: {named}")


def test_kubeconfig_errors_are_one_line(tmp_path):
    result = run("--kubeconfig", tmp_path / "no-such-kubeconfig")
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0
    assert "no-such-kubeconfig" in result.stderr


def test_manifests_and_kubeconfig_are_mutually_exclusive_and_one_is_required(cluster):
    assert run().returncode != 0
    both = run("--manifests", cluster, "--kubeconfig", "x")
    assert both.returncode != 0
    assert "not allowed with argument" in both.stderr


def test_hand_written_manifests_without_namespace_objects_can_be_filtered_by_namespace(tmp_path):
    (tmp_path / "app.yaml").write_text(json.dumps(configmap("shop", "settings")))
    out, err = preview("--manifests", tmp_path, "--include-namespaces", "shop")
    assert [key("configmaps", "shop", "settings")] in blocks(out)
    assert err == ""


SAMPLE = REPO / "emulator" / "sample_cluster"


def test_the_dry_run_counts_items_per_type_and_what_the_run_adds():
    out, _ = preview("--manifests", SAMPLE, "--include-namespaces", "shop")
    result = json.loads(out)
    run = result["dry_run"]
    items = sum(len(b["items"]) for b in result["blocks"])
    assert sum(n for _, n in run["types"]) == items
    assert dict(run["types"])["pods"] == sum(
        1 for b in result["blocks"] for i in b["items"] if i["resource"] == "pods"
    )
    assert run["snapshotted"] == 4 and run["snapshot_classes"] == ["csi-hostpath-snapclass"]
    assert run["crds"] == ["widgets.example.com"]
    assert run["total"] == items + 2 * 4 + 1 + 1
    assert [b["adds"] for b in result["blocks"]][:3] == [6, 0, 2]
    table, _ = preview("--manifests", SAMPLE, "--include-namespaces", "shop", "-o", "table")
    assert "ADDED AT RUN TIME: 10 (expected in the backup: 48 items)" in table
    assert "4 VolumeSnapshots + 4 VolumeSnapshotContents" in table
    assert "pods shop/db-0  (+ 6 snapshot objects at run time)" in table
    assert any(line.split() == ["pods", "6"] for line in table.splitlines())


def test_snapshot_volumes_false_adds_no_snapshot_unless_a_volume_policy_says_so(tmp_path):
    out, _ = preview("--manifests", SAMPLE, "--include-namespaces", "shop", "--snapshot-volumes", "false")
    assert json.loads(out)["dry_run"]["snapshotted"] == 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: v1\nvolumePolicies:\n"
        "- conditions: {pvcLabels: {app.kubernetes.io/name: web}}\n  action: {type: skip}\n"
        "- conditions: {csi: {driver: hostpath.csi.k8s.io}}\n  action: {type: snapshot}\n"
    )
    out, _ = preview(
        "--manifests", SAMPLE, "--include-namespaces", "shop", "--snapshot-volumes", "false",
        "--resource-policies-file", policy,
    )  # fmt: skip
    run = json.loads(out)["dry_run"]
    assert run["snapshotted"] == 3  # the database's claims; web's is skipped by the policy
    assert ["volume policy 'skip'", 1] in run["not_snapshotted"]


def test_velero_s_newer_filters_are_accepted(cluster, tmp_path):
    out, _ = preview("--manifests", cluster, "--include-namespace-scoped-resources", "configmaps")
    assert {i["resource"] for b in json.loads(out)["blocks"] for i in b["items"]} == {
        "configmaps",
        "namespaces",
    }
    out, _ = preview("--manifests", cluster, "--or-selector", "app=rates or app=nothing")
    assert blocks(out) == [[key("configmaps", "bank", "rates")], [key("namespaces", "", "bank")]]
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: v1\nincludeExcludePolicy:\n  excludedNamespaceScopedResources: [configmaps]\n"
    )
    out, _ = preview("--manifests", cluster, "--resource-policies-file", policy)
    assert "configmaps" not in {i["resource"] for b in json.loads(out)["blocks"] for i in b["items"]}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--selector", "a=b", "--or-selector", "c=d"], "either a --selector or an --or-selector"),
        (["--include-resources", "pods", "--include-cluster-scoped-resources", "nodes"], "old and new"),
        (["--or-selector", "a=b or c in (d"], 'invalid label selector "c in (d"'),
        (["--resource-policies-file", "/nonexistent/policy.yaml"], "cannot read --resource-policies-file"),
        (["--snapshot-volumes", "maybe"], "invalid --snapshot-volumes 'maybe'"),
    ],
)
def test_bad_new_options_exit_non_zero_naming_the_problem(cluster, args, named):
    result = run("--manifests", cluster, *args)
    assert result.returncode != 0 and result.stdout == ""
    assert named in result.stderr
