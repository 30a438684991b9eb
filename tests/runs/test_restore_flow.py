"""Restores from the CLI through real RQ workers: the sample cluster backed up, then restored
into a second, empty emulator (every object equal to the original apart from the fields Velero's
restore changes, listed below with why), a namespace-mapped restore into the first cluster, the
tiers observed in Velero's priority order, post-restore hooks, and a worker killed mid-restore."""

import gzip
import json
import re
from pathlib import Path

import pytest

from emulator import KubeEmulator

pytestmark = pytest.mark.usefixtures("rq_workers")

# What Velero's restore changes in an object, each for a reason; anything else that differs fails.
CHANGED = {
    "metadata.uid": "the API server gives every new object its own",
    "metadata.resourceVersion": "the API server's",
    "metadata.creationTimestamp": "the API server's",
    "metadata.generation": "the API server's",
    "metadata.managedFields": "Velero's resetMetadata removes them",
    "metadata.selfLink": "Velero's resetMetadata removes it",
    "metadata.ownerReferences": "Velero's resetMetadata removes them: controllers adopt their objects again",
    "metadata.labels.velero.io/backup-name": "Velero labels what it restores with the backup...",
    "metadata.labels.velero.io/restore-name": "...and with the restore",
    "status": "dropped unless --status-include-resources names the resource (Velero)",
    "spec.clusterIP": "services get new cluster IPs (Velero's service action)",
    "spec.clusterIPs": "services get new cluster IPs (Velero's service action)",
    "spec.ports[].nodePort": "node ports are reassigned unless preserved (Velero's service action)",
    "spec.nodeName": "pods are scheduled again (Velero's pod action)",
    "spec.priority": "Velero's pod action removes it: admission sets it again from the priority class",
    "spec.volumeName": "claims bind again: to the volume provisioned from their snapshot",
    "spec.dataSource": "claims restored from a CSI snapshot name it (Velero's CSI PVC action)",
    "spec.dataSourceRef": "claims restored from a CSI snapshot name it",
    "spec.claimRef": "a restored volume is bound again",
    "metadata.annotations.pv.kubernetes.io/bind-completed": "claims lose binding annotations (PVC action)",
    "metadata.annotations.pv.kubernetes.io/bound-by-controller": "claims lose binding annotations",
    "metadata.annotations.volume.kubernetes.io/selected-node": "claims lose the node they were scheduled on",
    "metadata.annotations.volume.kubernetes.io/storage-provisioner": "claims are provisioned again",
    "metadata.annotations.volume.beta.kubernetes.io/storage-provisioner": "the same, beta",
    "spec.selector.matchLabels.velero.io/dynamic-pv-restore": "a claim provisioned again loses this selector",
    "metadata.annotations.velero.io/volume-snapshot-name": "the backup's CSI action annotates claims",
    "metadata.labels.velero.io/volume-snapshot-name": "the backup's CSI action labels claims",
    "spec.selector.matchLabels.controller-uid": "jobs lose their controller-uid (Velero's job action)",
    "spec.selector.matchLabels.batch.kubernetes.io/controller-uid": "jobs lose their controller-uid",
    "spec.template.metadata.labels.controller-uid": "jobs lose their controller-uid",
    "spec.template.metadata.labels.batch.kubernetes.io/controller-uid": "jobs lose their controller-uid",
}


NOT_RESTORED_AS_IS = {
    "Node": "Velero never restores nodes",
    "PersistentVolume": "volumes snapshotted are provisioned again from their snapshot, under new names",
    "VolumeSnapshot": "the backup's snapshots are restored under the restore's names",
    "VolumeSnapshotContent": "the backup's snapshot contents are restored under the restore's names",
    "Pod": "pods of finished jobs and unmanaged debug pods are not restored (Velero's pod action)",
    "Job": "a finished job's run is not restored",
}


def flat(value, path=""):
    """{dotted path: leaf value}; list items as `[i]`."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flat(item, f"{path}.{key}" if path else key))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flat(item, f"{path}[{index}]"))
        return out
    return {path: value}


def allowed(path: str) -> bool:
    general = re.sub(r"\[\d+\]", "[]", path)
    return any(general == p or general.startswith((p + ".", p + "[")) for p in CHANGED)


def unexplained_differences(original: dict, restored: dict) -> list[str]:
    a, b = flat(original), flat(restored)
    return sorted(p for p in set(a) | set(b) if a.get(p) != b.get(p) and not allowed(p))


def labels_of(obj: dict) -> dict:
    return obj["metadata"].get("labels") or {}


def key_of(obj: dict) -> tuple:
    group = obj["apiVersion"].rpartition("/")[0]
    return group, obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    with KubeEmulator([]) as emulator:
        folder = tmp_path_factory.mktemp("kube2")
        emulator.kubeconfig = emulator.write_kubeconfig(str(folder / "kubeconfig"))
        yield emulator


@pytest.fixture(scope="module")
def backed_up(cluster, stack_env, tmp_path_factory):
    """The sample cluster backed up once for the module, with the two clusters registered."""
    import subprocess
    import sys

    from tests.conftest import REPO

    def manage(*args):
        return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=stack_env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    manage("cluster", "add", "sample", "--kubeconfig", cluster.kubeconfig)
    result = manage("backup", "create", "sample-full", "--cluster", "sample", "--workers", "4", "--wait")
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    return "sample-full"


def storage(stack_env) -> Path:
    return Path(stack_env["VELOWEB_DATA_DIR"]) / "storage"


def restore_file(stack_env, name: str, kind: str):
    suffix = {"results": "results.gz", "resource-list": "resource-list.json.gz", "log": "logs.gz"}[kind]
    path = storage(stack_env) / "restores" / name / f"restore-{name}-{suffix}"
    data = gzip.decompress(path.read_bytes())
    return data.decode() if kind == "log" else json.loads(data)


POST_HOOKS = {
    "resources": [
        {
            "name": "warm-cache",
            "includedNamespaces": ["shop"],
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
            "postHooks": [{"exec": {"container": "nginx", "command": ["/bin/sh", "-c", "echo warm"],
                                    "onError": "Continue", "waitTimeout": "20s", "execTimeout": "10s"}}],
        }
    ]
}  # fmt: skip


def test_a_restore_into_an_empty_cluster_brings_every_object_back(
    manage, backed_up, cluster, empty, stack_env
):
    manage("cluster", "add", "empty", "--kubeconfig", empty.kubeconfig)
    result = manage(
        "restore", "create", "into-empty", "--from-backup", backed_up, "--cluster", "empty",
        "--workers", "4", "--hooks", json.dumps(POST_HOOKS), "--wait", "--timeout", "180",
        check=False, timeout=240,
    )  # fmt: skip
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    source = {key_of(o): o for o in cluster.objects()}
    restored = {key_of(o): o for o in empty.objects()}
    ours = {k: o for k, o in restored.items() if labels_of(o).get("velero.io/restore-name")}
    assert len(ours) > 40
    for key, obj in ours.items():
        assert obj["metadata"]["labels"]["velero.io/restore-name"] == "into-empty"
        assert obj["metadata"]["labels"]["velero.io/backup-name"] == backed_up
        if key in source:
            assert unexplained_differences(source[key], obj) == [], key
    # what did not come back under its own name, Velero does not restore, or restores otherwise
    missing = {key[1] for key in source if key not in restored}
    assert missing <= set(NOT_RESTORED_AS_IS), missing
    # the restore's files in Velero's layout, its resource list naming what it created
    listing = restore_file(stack_env, "into-empty", "resource-list")
    created = {
        (kind.rpartition("/")[2], *(["", *entry.split("/")] if "/" not in entry else entry.split("/")))
        for kind, entries in listing.items()
        for entry in (e[: -len("(created)")] for e in entries if e.endswith("(created)"))
    }
    in_target = {(kind, ns, name) for (_g, kind, ns, name) in restored}
    assert created <= in_target and {(kind, ns, name) for (_g, kind, ns, name) in ours} <= created
    results = restore_file(stack_env, "into-empty", "results")
    assert set(results) == {"warnings", "errors"} and not results["errors"]["namespaces"]
    assert "restored" in restore_file(stack_env, "into-empty", "log")
    # the post-restore hook ran in each restored web pod, after the pod was restored
    web = sorted(n for (_g, kind, ns, n) in ours if kind == "Pod" and ns == "shop" and n.startswith("web-"))
    warmed = sorted(e["pod"] for e in empty.exec_log if "echo warm" in " ".join(e["command"]))
    assert web and warmed == web
    describe = manage("restore", "describe", "into-empty").stdout
    assert f"Hooks:        {len(web)} attempted, 0 failed" in describe


def test_tiers_ran_in_velero_s_priority_order(manage, backed_up, empty, stack_env):
    """Every object of a tier was created before any of the next tier (the emulator's resource
    versions count every write), and the CRD before its widgets."""
    code = (
        "from backups.models import Restore; r = Restore.objects.get(name='into-empty');"
        "print(__import__('json').dumps([t.label for t in r.tiers.order_by('index')]))"
    )
    labels = json.loads(manage("shell", "-c", code).stdout.strip().splitlines()[-1])
    assert labels[:2] == ["customresourcedefinitions", "namespaces"], labels
    versions: dict[str, list[int]] = {}
    plural = {"CustomResourceDefinition": "customresourcedefinitions", "Namespace": "namespaces"}
    for obj in empty.objects():  # the target was empty: its namespaces are the restore's
        if labels_of(obj).get("velero.io/restore-name") == "into-empty" or obj["kind"] == "Namespace":
            kind = plural.get(obj["kind"], obj["kind"])
            versions.setdefault(kind, []).append(int(obj["metadata"]["resourceVersion"]))
    assert max(versions["customresourcedefinitions"]) < min(versions["namespaces"])
    later = [v for kind, vs in versions.items() if kind not in plural.values() for v in vs]
    assert max(versions["namespaces"]) < min(later)
    assert max(versions["customresourcedefinitions"]) < min(versions["Widget"])


def test_a_namespace_mapped_restore_into_the_first_cluster(manage, backed_up, cluster, stack_env):
    result = manage(
        "restore", "create", "shop-copy", "--from-backup", backed_up, "--cluster", "sample",
        "--include-namespaces", "shop", "--namespace-mappings", "shop:shop-copy",
        "--wait", "--timeout", "180", check=False, timeout=240,
    )  # fmt: skip
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    shop = [o for o in cluster.objects() if o["metadata"].get("namespace") == "shop"]
    originals = {key_of(o)[:2] + (key_of(o)[3],): o for o in shop}
    copies = [o for o in cluster.objects() if o["metadata"].get("namespace") == "shop-copy"]
    assert copies
    for copy in copies:
        key = key_of(copy)[:2] + (key_of(copy)[3],)
        if key in originals:
            differences = unexplained_differences(originals[key], copy)
            assert differences == ["metadata.namespace"], (key, differences)
    # the originals were left alone: nothing of shop carries this restore's label
    assert not any(labels_of(o).get("velero.io/restore-name") == "shop-copy" for o in originals.values())
