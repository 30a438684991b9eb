"""Finalizing a backup: assemble the tarball from the batches' archive members, write Velero's
files and upload them; cancellable until the upload starts."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time

from django.db.models import F
from django.utils import timezone

from backups import notices
from backups.engine.items import ItemKey
from backups.engine.log import BackupLog, LogEntry
from backups.engine.running.crds import backup_crds
from backups.engine.source import SourceError
from backups.engine.velero_format.archive import BlockArchiveWriter
from backups.engine.velero_format.backup_files import BackupFilesWriter
from backups.engine.velero_format.backup_json import (
    BackupJsonOptions,
    BackupJsonSpec,
    BackupJsonStatus,
    velero_backup_json,
)
from backups.engine.velero_format.volume_info import skipped_summary
from backups.live import progress
from backups.models import Backup, BackupLogEntry, BlockBatch
from backups.runs import admission, cancel, steps, timings
from backups.runs.staging import Staging
from backups.validation import spec_of

Phase = Backup.Phase
logger = logging.getLogger(__name__)
SCHEDULE_NAME_LABEL = "velero.io/schedule-name"


def _read_log_entries(staging: Staging):
    for path in staging.log_files():
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield LogEntry(**json.loads(line))


def _record_late(backup: Backup, log: BackupLog) -> None:
    """Warnings and errors found while finalizing count like the blocks' own."""
    if log.errors or log.warnings:
        BackupLogEntry.objects.bulk_create(steps.log_rows(backup, log.entries))
        Backup.objects.filter(pk=backup.pk).update(
            errors=F("errors") + log.errors, warnings=F("warnings") + log.warnings
        )


def finalize(backup_id: int, job_id: str | None) -> None:
    """Assemble the tarball from the block members, write Velero's files and upload them.
    Cancellable until the upload starts (`Backup.upload_started`), then it goes to the end."""
    backup = Backup.objects.select_related("storage_location").get(pk=backup_id)
    if backup.phase == Phase.CANCELLING and backup.job_id == job_id:
        cancel.finish(backup_id, by_job=job_id)  # cancelled before this job started
        return
    if backup.phase != Phase.FINALIZING or backup.job_id != job_id:
        return  # a stale duplicate
    try:
        _finalize(backup, job_id)
    except steps.TRANSIENT:
        raise  # the watchdog finalizes again, at most steps.MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        steps.fail_unexpected(backup_id, error, "finalizing")


def _finalize(backup: Backup, job_id: str | None) -> None:
    from backups.engine.storage import StorageError, upload_backup

    backup_id = backup.pk
    began = time.monotonic()
    blocks_ended = timezone.now()
    snapshot_seconds = 0.0

    staging = Staging.of(backup)
    name = backup.name
    out = BackupFilesWriter(tempfile.mkdtemp(prefix="out-", dir=staging.root), name)
    batches = BlockBatch.objects.filter(backup=backup).count()
    members = [staging.member(n) for n in range(batches)]
    missing = [m for m in members if not os.path.exists(m)]
    entries = list(_read_log_entries(staging))
    written, classes, infos = [], {}, []
    types = set()  # resource types with a block item backed up
    # JSON gives each row its own copies of group, version, resource, namespace and kind: shared,
    # 300,000 written items take half the memory
    strings: dict[str, str] = {}
    shared = strings.setdefault
    for number in range(batches):
        path = staging.outcome_file(number)
        if os.path.exists(members[number]) and path.exists():
            outcome = json.loads(path.read_text())
            for row in outcome["written"]:
                group, version, resource, namespace, item, kind = row[:6]
                key = ItemKey(
                    shared(group, group), shared(version, version), shared(resource, resource),
                    shared(namespace, namespace), item,
                )  # fmt: skip
                written.append((key, shared(kind, kind)))
                if not row[6]:
                    types.add(key.group_resource)
            classes.update(outcome["snapshot_classes"])
            infos += outcome["volume_infos"]
            snapshot_seconds += outcome.get("seconds", {}).get("snapshots", 0.0)
    late = BackupLog()
    infos.sort(key=lambda info: not info.get("skipped"))  # Velero lists the skipped volumes first
    if any(info.get("skipped") for info in infos):
        late.info(f"Summary for skipped PVs: {json.dumps(skipped_summary(infos), separators=(',', ':'))}")
    for path in missing:  # lost from the staging folder (not shared with a worker, or deleted): say so
        late.error(
            f"the archive of {os.path.basename(path)} is missing from {staging.members}; "
            "its blocks are not in the backup"
        )
    try:
        extra = [_snapshot_classes_member(staging, classes, written)]
        extra.append(_crds_member(backup, staging, types, written, late))
    except OSError as error:
        _record_late(backup, late)
        return steps.fail(backup_id, f"cannot assemble the backup in {staging.root}: {error}")
    late.info(f"backed up {len(written)} items out of {backup.total_items} planned")  # as sequential_backup
    _record_late(backup, late)
    entries += late.entries
    try:
        members = [m for m in members if m not in missing] + [m for m in extra if m]
        size = out.write_contents(members, written, entries, infos)
    except OSError as error:
        return steps.fail(backup_id, f"cannot assemble the backup in {staging.root}: {error}")
    backup.refresh_from_db()
    phase = Phase.PARTIALLY_FAILED if backup.errors else Phase.COMPLETED
    completed = timezone.now()
    out.write_metadata(
        velero_backup_json(
            name,
            BackupJsonSpec.from_spec(spec_of(backup), hooks=backup.hooks),
            BackupJsonOptions(
                storage_location=backup.storage_location.name if backup.storage_location else "default",
                ttl=backup.ttl,
                csi_snapshot_timeout=backup.csi_snapshot_timeout,
                labels={SCHEDULE_NAME_LABEL: backup.schedule_name} if backup.schedule_name else None,
            ),
            BackupJsonStatus(
                phase=phase,
                start=backup.started,
                completion=completed,
                expiration=backup.expiration,
                errors=backup.errors,
                warnings=backup.warnings,
                total_items=len(written),
                items_backed_up=len(written),
                hooks_attempted=backup.hooks_attempted,
                hooks_failed=backup.hooks_failed,
                csi_snapshots_attempted=backup.snapshots_attempted,
                csi_snapshots_completed=backup.snapshots_completed,
            ),
        )
    )
    # the point of no return: from here on a cancel is refused ("too late: uploading")
    if not Backup.objects.filter(pk=backup_id, phase=Phase.FINALIZING).update(upload_started=timezone.now()):
        cancel.finish(backup_id, by_job=job_id)
        return
    location = backup.storage_location
    uploading = time.monotonic()
    try:
        warnings = upload_backup(location.store(), name, out.files, prefix="")
    except StorageError as error:
        staging.remove()
        return steps.fail(backup_id, f"upload to storage location {location.name} failed: {error}")
    planned = (backup.timings or {}).get("planning", 0.0)
    timings.record(
        backup_id,
        blocks=max(0.0, (blocks_ended - backup.started).total_seconds() - planned) if backup.started else 0.0,
        snapshots=snapshot_seconds,
        finalize=uploading - began,
        upload=time.monotonic() - uploading,
        **timings.hook_times(backup_id),
    )
    Backup.objects.filter(pk=backup_id, phase=Phase.FINALIZING).update(
        phase=phase,
        completed=completed,
        size_bytes=size,
        warnings=F("warnings") + len(warnings),
        # Velero's final patch: snapshots and their contents join the items backed up
        total_items=len(written),
        items_backed_up=len(written),
    )
    staging.remove()
    progress.backup_changed(backup_id)
    notices.backup_ended(backup_id)
    admission.admit()
    cancel.delete_if_requested(backup)


def _snapshot_classes_member(staging: Staging, classes: dict, written: list) -> str | None:
    """The VolumeSnapshotClasses used by any block, written once for the whole backup."""
    if not classes:
        return None
    already = {key for key, _ in written}
    missing = {}
    for name, obj in sorted(classes.items()):
        version = obj["apiVersion"].split("/")[-1]
        key = ItemKey("snapshot.storage.k8s.io", version, "volumesnapshotclasses", "", name)
        if key not in already:  # a full backup collects the classes like any cluster-scoped item
            missing[key] = obj
    if not missing:
        return None
    path = str(staging.root / "members" / "snapshot-classes.tar.gz-member")
    with BlockArchiveWriter(path) as writer:
        for key, obj in missing.items():
            writer.add_item(key, obj)
            written.append((key, "VolumeSnapshotClass"))
    return path


def _crds_member(backup: Backup, staging: Staging, types: set, written: list, log: BackupLog) -> str | None:
    """The CRDs of the custom resources backed up, as Velero adds them after every block."""
    if not types or backup.cluster is None:
        return None
    try:
        source = backup.cluster.connect()
    except (SourceError, ValueError, OSError) as error:
        log.error(f"CRDs of the backed-up custom resources not added: cannot read the cluster: {error}")
        return None
    path = os.path.join(staging.members, "crds.tar.gz-member")
    try:
        with BlockArchiveWriter(path) as writer:
            crds = backup_crds(
                source, staging.read_table(), spec_of(backup), types, [k for k, _ in written], writer, log
            )
            if not crds:
                writer.abort()
                return None
    finally:
        source.close()
    written.extend(crds)
    return path
