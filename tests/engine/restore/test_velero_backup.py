"""A backup written by Velero, laid out exactly as Velero writes it (format 1.1.0: `metadata/version`
first, each object under `<version>-preferredversion/` and unversioned, a second API version only
under its version directory when EnableAPIGroupVersions was on), restored as Velero restores it:
the unversioned copy (the source's preferred version)."""

import gzip
import io
import json
import tarfile

import pytest

from backups.engine.restore import (
    BackupContents,
    BackupReadError,
    RestoreSpec,
    plan_restore,
    run_local_restore,
)

BACKUP_JSON = {
    "apiVersion": "velero.io/v1",
    "kind": "Backup",
    "metadata": {"name": "nightly-20250301", "namespace": "velero"},
    "spec": {"includedNamespaces": ["app"], "ttl": "720h0m0s", "storageLocation": "default"},
    "status": {"phase": "Completed", "formatVersion": "1.1.0", "version": 1},
}


def _obj(api_version, kind, name, namespace=None, **rest):
    meta = {
        "name": name,
        "uid": f"uid-{name}",
        "resourceVersion": "42",
        "creationTimestamp": "2025-03-01T00:00:00Z",
    }
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **rest}


def velero_tarball(path, *, unversioned=True, api_group_versions=True):
    """Entries in the order Velero's backupper writes them (tar headers as Go's archive/tar)."""
    entries = []

    def add(gr, version, obj, preferred=True):
        ns = obj["metadata"].get("namespace")
        scope = f"namespaces/{ns}" if ns and gr != "namespaces" else "cluster"
        body = json.dumps(obj).encode()
        name = obj["metadata"]["name"]
        if preferred:
            entries.append((f"resources/{gr}/{version}-preferredversion/{scope}/{name}.json", body))
            if unversioned:
                entries.append((f"resources/{gr}/{scope}/{name}.json", body))
        else:
            entries.append((f"resources/{gr}/{version}/{scope}/{name}.json", body))

    add("namespaces", "v1", _obj("v1", "Namespace", "app", status={"phase": "Active"}))
    add("configmaps", "v1", _obj("v1", "ConfigMap", "settings", "app", data={"mode": "prod"}))
    hpa_v2 = _obj(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "web",
        "app",
        spec={
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 4,
        },
    )
    add("horizontalpodautoscalers.autoscaling", "v2", hpa_v2)
    if api_group_versions:
        hpa_v1 = {
            **hpa_v2,
            "apiVersion": "autoscaling/v1",
            "spec": {**hpa_v2["spec"], "targetCPUUtilizationPercentage": 80},
        }
        add("horizontalpodautoscalers.autoscaling", "v1", hpa_v1, preferred=False)
    with gzip.open(path, "wb") as gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name, body in [("metadata/version", b"1.1.0\n"), *entries]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(body), 0o755, 1740787200
            tar.addfile(info, io.BytesIO(body))
    return path


def test_velero_layout_restores_the_unversioned_copies(tmp_path, target_emu, target):
    tarball = velero_tarball(str(tmp_path / "nightly-20250301.tar.gz"))
    contents = BackupContents.open(tarball, str(tmp_path / "idx"), backup=BACKUP_JSON)
    assert contents.format_version == "1.1.0"
    assert [(e.group_resource, e.version, e.namespace, e.name) for e in contents.entries()] == [
        ("configmaps", "v1", "app", "settings"),
        ("horizontalpodautoscalers.autoscaling", "v2", "app", "web"),
        ("namespaces", "v1", "", "app"),
    ]
    result = run_local_restore(
        tarball,
        RestoreSpec(backup_name="nightly-20250301"),
        target,
        "from-velero",
        str(tmp_path / "w"),
        backup=BACKUP_JSON,
    )
    assert result.phase == "Completed", result.results.results_json()
    hpa = target_emu.get("horizontalpodautoscalers.autoscaling", "app", "web")
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "maxReplicas": 4,
    }
    cm = target_emu.get("configmaps", "app", "settings")
    assert cm["metadata"]["labels"] == {
        "velero.io/backup-name": "nightly-20250301",
        "velero.io/restore-name": "from-velero",
    }
    assert cm["metadata"]["uid"] != "uid-settings"
    # Velero's three files of a restore
    with gzip.open(result.files["resource-list"], "rt") as f:
        assert json.load(f) == {
            "autoscaling/v2/HorizontalPodAutoscaler": ["app/web(created)"],
            "v1/ConfigMap": ["app/settings(created)"],
            "v1/Namespace": ["app(created)"],
        }
    with gzip.open(result.files["results"], "rt") as f:
        assert json.load(f) == {
            "warnings": {"velero": [], "cluster": [], "namespaces": {}},
            "errors": {"velero": [], "cluster": [], "namespaces": {}},
        }
    assert sorted(p.rsplit("/", 1)[1] for p in result.files.values()) == [
        "restore-from-velero-logs.gz",
        "restore-from-velero-resource-list.json.gz",
        "restore-from-velero-results.gz",
    ]


def test_without_unversioned_copies_the_preferred_version_is_read(tmp_path, target):
    tarball = velero_tarball(str(tmp_path / "b.tar.gz"), unversioned=False)
    contents = BackupContents.open(tarball, str(tmp_path / "idx"))
    versions = {e.group_resource: e.version for e in contents.entries()}
    assert versions["horizontalpodautoscalers.autoscaling"] == "v2"
    plan = plan_restore(contents, RestoreSpec(backup_name="b"), target, dry_run=True)
    assert {i.resource: i.version for i in plan.items()}["horizontalpodautoscalers"] == "v2"


def test_reopening_the_index_in_another_process_reads_the_same(tmp_path):
    tarball = velero_tarball(str(tmp_path / "b.tar.gz"))
    first = BackupContents.open(
        tarball, str(tmp_path / "idx"), backup=BACKUP_JSON, volume_infos=[{"pvName": "x"}]
    )
    again = BackupContents.load(str(tmp_path / "idx"))
    assert (
        again.entries() == first.entries()
        and again.backup == BACKUP_JSON
        and again.volume_infos == [{"pvName": "x"}]
    )
    assert again.read(again.entries()[0])["data"] == {"mode": "prod"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a tarball", "not a gzip-compressed tar file"),
        (gzip.compress(b"\0" * 1024), "no metadata/version entry"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(content)
    with pytest.raises(BackupReadError, match=message):
        BackupContents.open(str(path), str(tmp_path / "idx"))


def test_a_future_format_is_refused(tmp_path):
    path = tmp_path / "v2.tar.gz"
    with gzip.open(path, "wb") as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        info = tarfile.TarInfo("metadata/version")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"2.0.0\n"))
    with pytest.raises(BackupReadError, match="format 2.0.0 is not supported"):
        BackupContents.open(str(path), str(tmp_path / "idx"))


def test_a_file_object_is_read_as_a_path_is(tmp_path):
    tarball = velero_tarball(str(tmp_path / "b.tar.gz"))
    with open(tarball, "rb") as f:
        stream = io.BytesIO(f.read())
    from_stream = BackupContents.open(stream, str(tmp_path / "idx"))
    assert [e[:5] for e in from_stream.entries()] == [
        e[:5] for e in BackupContents.open(tarball, str(tmp_path / "i2")).entries()
    ]
    assert not stream.closed  # the caller's file stays open
