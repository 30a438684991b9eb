"""Velero's filters from the CLI, through real RQ workers, to Velero's files: the scoped resource
filters, or-selectors and a resource policy written with Velero's field names; namespaces and
unknown resource names handled as Velero handles them, with the warnings in the backup's log; what
Velero's controller refuses ends FailedValidation naming the field."""

import gzip
import json
from pathlib import Path

import pytest

from backups.engine.velero_format.archive import read_archive_items
from backups.engine.velero_format.log_text import parse_line
from backups.services import imports

pytestmark = pytest.mark.usefixtures("rq_workers")

POLICY = """\
version: v1
volumePolicies:
# the web uploads are cache: no snapshot
- conditions:
    storageClass: [csi-hostpath-sc]
    pvcLabels:
      app.kubernetes.io/name: web
  action:
    type: skip
- conditions:
    csi: {driver: hostpath.csi.k8s.io}
  action:
    type: snapshot
"""


def folder(stack_env, name) -> Path:
    return Path(stack_env["VELOWEB_DATA_DIR"]) / "storage" / "backups" / name


def gzip_json(path):
    return json.loads(gzip.decompress(path.read_bytes()))


def log_lines(path):
    """The log's lines, with logrus's `msg` also as `message`."""
    lines = [parse_line(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]
    return [{**line, "message": line.get("msg", "")} for line in lines]


def test_scoped_filters_or_selectors_and_a_resource_policy_run_through_the_workers(
    manage, registered, cluster, stack_env, tmp_path
):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    result = manage(
        "backup", "create", "scoped-1", "--cluster", registered,
        "--include-namespaces", "shop,ghost",
        "--include-namespace-scoped-resources", "pods,pvc,widgets-typo",
        "--include-cluster-scoped-resources", "persistentvolumes",
        "--or-selector", "app.kubernetes.io/name=postgres or app.kubernetes.io/name=web",
        "--resource-policies-file", str(policy_file),
        "--workers", "3", "--wait", "--timeout", "120",
        check=False,
    )  # fmt: skip
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    assert "Warnings:     2" in result.stdout
    assert "Namespace-scoped: included pods, pvc, widgets-typo; excluded <none>" in result.stdout
    assert "Or-selector:  app.kubernetes.io/name=postgres or app.kubernetes.io/name=web" in result.stdout
    skipped = "Skipped volumes: 1\n  shop/web-uploads (pvc-web-uploads): any: skipped due to resource policy"
    assert skipped in result.stdout
    out = folder(stack_env, "scoped-1")

    # velero-backup.json, with Velero's field names
    backup = json.loads((out / "velero-backup.json").read_text())
    spec = backup["spec"]
    assert spec["includedNamespaces"] == ["shop", "ghost"]
    assert spec["includedNamespaceScopedResources"] == ["pods", "pvc", "widgets-typo"]
    assert spec["includedClusterScopedResources"] == ["persistentvolumes"]
    assert "includedResources" not in spec or spec["includedResources"] == []
    assert spec["orLabelSelectors"] == [
        {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
        {"matchLabels": {"app.kubernetes.io/name": "web"}},
    ]
    assert "labelSelector" not in spec
    assert spec["resourcePolicy"] == {"kind": "configmap", "name": "scoped-1"}
    assert backup["metadata"]["annotations"]["veloweb.io/resource-policy"] == POLICY
    assert backup["status"]["csiVolumeSnapshotsAttempted"] == 3  # the three db claims, not the skipped one
    assert backup["status"]["csiVolumeSnapshotsCompleted"] == 3

    # the items: only pods and claims of either selector, the claims' volumes, the namespace
    items = dict(read_archive_items(str(out / "scoped-1.tar.gz"), each_object_once=True))
    kinds = {}
    for obj in items.values():
        kinds.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    assert kinds["Pod"] == {"db-0", "db-1", "db-2", "web-7d4b9c8f6d-x2k9p", "web-7d4b9c8f6d-q7m4z"}
    assert kinds["PersistentVolumeClaim"] == {"data-db-0", "data-db-1", "data-db-2", "web-uploads"}
    assert kinds["PersistentVolume"] == {"pvc-db-0", "pvc-db-1", "pvc-db-2", "pvc-web-uploads"}
    assert kinds["Namespace"] == {"shop"}
    assert "ConfigMap" not in kinds and "Deployment" not in kinds  # not among the namespace-scoped types
    claims = {o["metadata"]["name"]: o for o in items.values() if o["kind"] == "PersistentVolumeClaim"}
    assert "velero.io/volume-snapshot-name" not in (
        claims["web-uploads"]["metadata"].get("annotations") or {}
    )
    assert "velero.io/volume-snapshot-name" in claims["data-db-0"]["metadata"]["annotations"]

    # the skipped volume, as Velero lists skipped volumes
    infos = gzip_json(out / "scoped-1-volumeinfo.json.gz")
    skipped = [i for i in infos if i["skipped"]]
    assert [(i["pvcName"], i["pvName"]) for i in skipped] == [("web-uploads", "pvc-web-uploads")]
    assert skipped[0]["skippedReason"].startswith("any: skipped due to resource policy ;")
    assert infos[0] is not None and infos[0]["skipped"]  # skipped first, as Velero writes them
    assert sorted(i["pvcName"] for i in infos if not i["skipped"]) == ["data-db-0", "data-db-1", "data-db-2"]

    # the warnings: the missing namespace and the unknown type, in the log and the results
    entries = log_lines(out / "scoped-1-logs.gz")
    warnings = sorted(e["message"] for e in entries if e["level"] == "warning")
    assert warnings == [
        "namespace ghost in included namespaces does not exist",
        "unknown resource 'widgets-typo' in included namespace-scoped resources: the cluster does not "
        "serve it, so it matches nothing",
    ]
    assert any(
        e["message"].startswith('Summary for skipped PVs: [{"name":"pvc-web-uploads"') for e in entries
    )
    results = gzip_json(out / "scoped-1-results.gz")
    assert results["warnings"]["cluster"] == [
        "resource: /namespaces name: /ghost message: /namespace ghost in included namespaces does not exist"
    ]
    logs = manage("backup", "logs", "scoped-1").stdout
    ghost = [parse_line(line) for line in logs.splitlines() if "ghost" in line]  # as `velero backup logs`
    assert [(g["level"], g["msg"], g["resource"], g["name"]) for g in ghost] == [
        ("warning", "namespace ghost in included namespaces does not exist", "namespaces", "ghost")
    ]

    # an import reads the same fields back
    fields = imports.backup_fields(backup, "scoped-1", "default")
    assert fields["included_namespace_scoped_resources"] == ["pods", "pvc", "widgets-typo"]
    assert fields["included_cluster_scoped_resources"] == ["persistentvolumes"]
    assert fields["or_label_selectors"] == ["app.kubernetes.io/name=postgres", "app.kubernetes.io/name=web"]
    assert fields["label_selector"] == "" and fields["resource_policy"] == POLICY


def test_namespaces_as_velero_lists_them_and_unknown_resources_as_warnings(
    manage, registered, cluster, stack_env
):
    """A pod in a Terminating namespace is backed up with an include or an exclude filter too, and
    an unknown resource name only matches nothing, in the backup's filters and in a hook's (which
    then runs in no pod)."""
    hooks = json.dumps(
        {
            "resources": [
                {
                    "name": "typo",
                    "includedResources": ["podz"],
                    "pre": [{"exec": {"command": ["/bin/true", "typo-hook"]}}],
                }
            ]
        }
    )
    cluster.add(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "leaving"},
            "status": {"phase": "Terminating"},
        }
    )
    cluster.add(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "last", "namespace": "leaving"}, "spec": {}}
    )
    for name, args in [
        ("ns-in", ["--include-namespaces", "leaving,shop"]),
        ("ns-out", ["--exclude-namespaces", "shop,payments,monitoring,kube-system,default"]),
    ]:
        result = manage(
            "backup", "create", name, "--cluster", registered, *args,
            "--include-resources", "pods,unresolvable", "--hooks", hooks, "--wait", "--timeout", "120",
            check=False,
        )  # fmt: skip
        assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
        items = dict(
            read_archive_items(str(folder(stack_env, name) / f"{name}.tar.gz"), each_object_once=True)
        )
        pods = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in items.values()}
        assert ("leaving", "last") in pods
        assert all(o["kind"] == "Pod" for o in items.values())
        assert ("shop" in {ns for ns, _ in pods}) is (name == "ns-in")
        warnings = [
            e for e in log_lines(folder(stack_env, name) / f"{name}-logs.gz") if e["level"] == "warning"
        ]
        assert [w["message"].split(":")[0] for w in warnings] == [
            "unknown resource 'unresolvable' in included resources",
            "unknown resource 'podz' in hook 'typo' includedResources",
        ]
    assert not [r for r in cluster.exec_log if "typo-hook" in r["command"]]


def test_what_veleros_controller_refuses_ends_failed_validation_naming_it(manage, registered, tmp_path):
    result = manage(
        "backup", "create", "mixed-1", "--cluster", registered, "--include-resources", "pods",
        "--include-cluster-scoped-resources", "persistentvolumes", "--wait", "--timeout", "60",
        check=False,
    )  # fmt: skip
    assert result.returncode != 0  # refused when created, by the validation layer the form shares
    assert "backup mixed-1 failed validation" in result.stderr
    assert "old and new resource filters cannot be used together" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--selector", "a=b", "--or-selector", "c=d"],
            "either a --selector or an --or-selector can be given",
        ),
        (["--or-selector", "a=b or c in (d"], 'invalid label selector "c in (d"'),
        (["--resource-policies-file", "{policy}"], "resource policy line 4: volumePolicies[0].action.type"),
        (["--resource-policies-file", "{missing}"], "cannot read --resource-policies-file"),
    ],
)
def test_bad_options_are_one_line_errors_and_nothing_is_saved(manage, registered, tmp_path, args, message):
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: v1\nvolumePolicies:\n- action:\n    type: delete\n")
    args = [a.format(policy=policy, missing=tmp_path / "gone.yaml") for a in args]
    result = manage("backup", "create", "bad-1", "--cluster", registered, *args, check=False)
    assert result.returncode != 0 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "no backup named" in manage("backup", "describe", "bad-1", check=False).stderr
