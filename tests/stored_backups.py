"""Backups written into a local storage location by the real writer (`BackupFilesWriter`: the
tarball from block members, its index, the resource list), for the pages that look inside them."""

from __future__ import annotations

import os
import tempfile

from backups.engine.items import ItemKey
from backups.engine.velero_format.archive import BlockArchiveWriter
from backups.engine.velero_format.backup_files import BackupFilesWriter
from backups.engine.velero_format.layout import backup_dir, backup_file_name


def key_of(obj: dict) -> ItemKey:
    group, _, version = obj["apiVersion"].rpartition("/")
    resource = {
        "ConfigMap": "configmaps",
        "Secret": "secrets",
        "Deployment": "deployments",
        "Namespace": "namespaces",
    }
    meta = obj["metadata"]
    return ItemKey(group, version, resource[obj["kind"]], meta.get("namespace", ""), meta["name"])


def configmap(ns: str, name: str, data: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": data,
    }


def secret(ns: str, name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": data}


def deployment(ns: str, name: str, replicas: int, image: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


def write_backup(root: str, name: str, objects: list[dict], *, index: bool = True, per_block: int = 3) -> str:
    """Velero's files of backup `name` under `<root>/backups/<name>/`; without `index`, as an
    imported or older backup has them (no index file)."""
    folder = os.path.join(root, backup_dir(name))
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        members = []
        for start in range(0, len(objects), per_block):
            path = os.path.join(staging, f"block-{start:07d}.tar.gz-member")
            with BlockArchiveWriter(path, fsync=False) as writer:
                for obj in objects[start : start + per_block]:
                    writer.add_item(key_of(obj), obj)
            members.append(path)
        files = BackupFilesWriter(folder, name)
        files.write_contents(members, [(key_of(o), o["kind"]) for o in objects], [], [])
        files.write_metadata({"kind": "Backup", "apiVersion": "velero.io/v1", "metadata": {"name": name}})
    if not index:
        os.unlink(os.path.join(folder, backup_file_name("index", name)))
    return folder
