"""Finalizing a restore: the restored pods' post-restore exec hooks (Velero waits for them
before a restore ends), then the results of every batch merged, Velero's three files of a
restore written to the backup's storage location under `restores/<name>/`, and the phase."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from backups import notices
from backups.engine.log import BackupLog, LogEntry
from backups.engine.restore import PostHook, RestoreResults, run_post_restore_hooks, write_restore_files
from backups.engine.source import SourceError
from backups.engine.storage import StorageError
from backups.engine.storage.restore_io import upload_restore_files
from backups.models import HookRun, Restore, RestoreLogEntry
from backups.runs import restore_ops, steps
from backups.runs.batch_sql import write_turn
from backups.runs.kinds import RESTORE
from backups.runs.restore_records import changed, result_rows
from backups.runs.staging import Staging

Phase = Restore.Phase
logger = logging.getLogger(__name__)


def finalize(restore_id: int, job_id: str | None) -> None:
    restore = Restore.objects.select_related("cluster", "storage_location", "backup__storage_location").get(
        pk=restore_id
    )
    if restore.phase == Phase.CANCELLING and restore.job_id == job_id:
        restore_ops.cancel_finish(restore_id, by_job=job_id)
        return
    if restore.phase != Phase.FINALIZING or restore.job_id != job_id:
        return  # a stale duplicate
    try:
        _finalize(restore)
    except steps.TRANSIENT:
        raise  # the watchdog finalizes again, at most steps.MAX_STEP_ATTEMPTS times in all
    except Exception as error:
        restore_ops.fail_unexpected(restore_id, error, "finalizing")


def _read_log_entries(staging: Staging):
    for path in staging.log_files():
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield LogEntry(**json.loads(line))


def _finalize(restore: Restore) -> None:
    staging = Staging.of_restore(restore)
    results = RestoreResults()
    pods: list[dict] = []
    for _name, doc in staging.read_parts():
        results.merge(doc["results"])
        pods += doc.get("hooks") or []
    late = RestoreResults()
    log = BackupLog()
    if pods:
        run_hooks(restore, pods, late, log)
    location = restore.storage_location or (restore.backup.storage_location if restore.backup else None)
    folder = tempfile.mkdtemp(prefix="out-", dir=staging.root)
    counts = results.counts()
    log.info(
        f"restored {counts.get('created', 0) + counts.get('updated', 0)} items, skipped "
        f"{counts.get('skipped', 0)}, failed {counts.get('failed', 0)}"
    )
    if location is None:
        late.warn(None, "no storage location: the restore's log, results and resource list are not stored")
    elif location.read_only:
        late.warn(None, f"storage location {location.name} is read-only: the restore's files are not stored")
    results.merge(late.as_json())
    staging.write_log("finalize", log.entries)
    files = write_restore_files(folder, restore.name, results, _read_log_entries(staging))
    if location is not None and not location.read_only:
        try:
            upload_restore_files(location.store(), restore.name, files)
        except StorageError as error:  # the files cannot say it of themselves: the database does
            upload = RestoreResults()
            upload.warn(None, f"the restore's files could not be written to {location.name}: {error}")
            late.merge(upload.as_json())
            results.merge(upload.as_json())
    with write_turn, transaction.atomic():
        RestoreLogEntry.objects.bulk_create(result_rows(restore.pk, late.as_json()))
        Restore.objects.filter(pk=restore.pk, phase=Phase.FINALIZING).update(
            phase=Phase.PARTIALLY_FAILED if results.error_count else Phase.COMPLETED,
            completed=timezone.now(),
            warnings=results.warning_count,
            errors=results.error_count,
            storage_location=location,
        )
    staging.remove()
    changed(restore.pk)
    notices.restore_ended(restore.pk)


def run_hooks(restore: Restore, pods: list[dict], results: RestoreResults, log: BackupLog) -> None:
    """Each restored pod's post-restore hooks, in their order, pods side by side on `workers`
    threads (Velero runs each pod's in a goroutine of its own and waits for all)."""
    try:
        target = restore.cluster.connect()
    except (SourceError, ValueError, OSError) as error:
        results.error(None, f"post-restore hooks not run: cannot reach the cluster: {error}")
        return

    def run(entry: dict) -> None:
        pod = entry["pod"]
        meta = pod.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        hooks = [PostHook(**{**h, "command": tuple(h["command"])}) for h in entry["hooks"]]
        pod_log = BackupLog()
        try:
            runs = run_post_restore_hooks(pod, hooks, target, pod_log)
        except SourceError as error:
            results.error(namespace, f"post-restore hooks of pod {name} not run: {error}")
            runs = []
        rows = []
        for hook_run in runs:
            hook = hook_run.hook
            if not hook_run.ok:
                message = f"post-restore hook {hook.name} in pod {namespace}/{name} failed: {hook_run.error}"
                if hook.on_error == "Fail":
                    results.error(namespace, message)
                else:
                    results.warn(namespace, message)
            rows.append(
                HookRun(
                    run_kind=RESTORE.name,
                    run_id=restore.pk,
                    restore=restore,
                    block_index=0,
                    phase="post",
                    namespace=namespace,
                    pod=name,
                    container=hook.container,
                    source=hook.source,
                    command=list(hook.command),
                    on_error=hook.on_error,
                    exit_code=0 if hook_run.ok else None,
                    error=hook_run.error or "",
                    started=hook_run.started,
                    finished=hook_run.finished,
                    duration=max(0.0, hook_run.finished - hook_run.started),
                )
            )
        log.entries.extend(pod_log.entries)
        try:
            with write_turn, transaction.atomic():
                HookRun.objects.bulk_create(rows)
                Restore.objects.filter(pk=restore.pk).update(
                    hooks_attempted=F("hooks_attempted") + len(rows),
                    hooks_failed=F("hooks_failed") + sum(1 for r in runs if not r.ok),
                )
        finally:
            connection.close()
        changed(restore.pk)

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(
            max_workers=max(1, restore.workers), thread_name_prefix="restore-hooks"
        ) as pool:
            list(pool.map(run, pods))
    finally:
        target.close()
    log.info(f"post-restore hooks of {len(pods)} pods ran in {time.monotonic() - started:.1f}s")
