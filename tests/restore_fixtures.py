"""A real backup to restore: the emulated sample cluster backed up by the engine into a local
storage location, then imported (as a Velero backup found in storage is), so a restore reads it
exactly as it would read one written by Velero or by the workers."""

from __future__ import annotations

from backups.engine.sequential_backup import run_local_backup
from backups.models import Backup, Cluster, StorageLocation
from backups.services.imports import import_backup
from backups.validation import backup_spec


def backed_up(kubeconfig: str, location: StorageLocation, name: str, **fields) -> Backup:
    """Back up the cluster of `kubeconfig` into `location` as `name`; the imported Backup row."""
    source = Cluster(name="source", kubeconfig_path=kubeconfig).connect()
    try:
        run_local_backup(source, backup_spec(fields), name, location.path)
    finally:
        source.close()
    return Backup.objects.get(pk=import_backup(location, name).backup.pk)
