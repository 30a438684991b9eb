"""A backup from the CLI through real RQ workers to a Velero backup in the storage folder."""

import gzip
import json
import tarfile
from pathlib import Path

import pytest

from backups.engine.archive import read_archive_items

pytestmark = pytest.mark.usefixtures("rq_workers")


def storage_dir(stack_env) -> Path:
    return Path(stack_env["VELOWEB_DATA_DIR"]) / "storage"


def test_a_backup_of_the_sample_cluster_completes_and_matches_the_cluster(
    manage, registered, cluster, stack_env
):
    result = manage(
        "backup",
        "create",
        "full-1",
        "--cluster",
        registered,
        "--workers",
        "4",
        "--wait",
        "--timeout",
        "120",
        check=False,
    )
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    folder = storage_dir(stack_env) / "backups" / "full-1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "full-1-logs.gz",
        "full-1-resource-list.json.gz",
        "full-1-results.gz",
        "full-1.tar.gz",
        "velero-backup.json",
    ]
    with tarfile.open(folder / "full-1.tar.gz", "r:gz") as tar:
        assert tar.getnames()[0] == "metadata/version"
    items = dict(read_archive_items(str(folder / "full-1.tar.gz"), each_object_once=True))
    # every object written is the cluster's object
    for entry, obj in items.items():
        parts = entry.split("/")
        group_resource, name = parts[1], parts[-1][: -len(".json")]
        namespace = parts[3] if parts[2] == "namespaces" else ""
        assert cluster.get(group_resource, namespace or None, name) == obj or obj["kind"] in ("Namespace",), (
            entry
        )
    metadata = json.loads((folder / "velero-backup.json").read_text())
    assert metadata["status"]["progress"]["itemsBackedUp"] == len(items)
    resource_list = json.loads(gzip.decompress((folder / "full-1-resource-list.json.gz").read_bytes()))
    assert sum(len(v) for v in resource_list.values()) == len(items)
