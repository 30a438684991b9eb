"""A finished backup's tarball index, ready to read: a local uncompressed copy under
`DATA_DIR/indexes/`, fetched from the storage location (written there at finalize), or built by
streaming the tarball once when the location has none (imported backups, backups from before
the index) and then stored beside the backup unless the location is read-only.

The local copy is a cache: deleting it costs one download (or one scan) on the next open.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings

from backups.engine.storage import ObjectNotFoundError, StorageError
from backups.engine.velero_format.layout import backup_file_key, tarball_key
from backups.engine.velero_format.tarball_index import (
    IndexError_,
    TarballIndex,
    unpack_index,
    write_index,
)
from backups.models import Backup

logger = logging.getLogger(__name__)

FINISHED = (Backup.Phase.COMPLETED, Backup.Phase.PARTIALLY_FAILED)


class ContentsUnavailable(Exception):
    """The backup's contents cannot be read; the message says why (shown as is)."""

    status = 404


class StorageUnreachable(ContentsUnavailable):
    """The storage location (or the cluster) did not answer: it may answer later."""

    status = 503


class NotIndexed(ContentsUnavailable):
    """The backup has no index yet and the caller did not ask to build one."""


class Indexing(ContentsUnavailable):
    """A job builds the backup's index now (a page says so and reloads when it is done)."""

    status = 202

    def __init__(self, message: str, backup: Backup):
        super().__init__(message)
        self.backup = backup


def cache_dir() -> Path:
    return Path(settings.DATA_DIR) / "indexes"


def cache_path(backup: Backup) -> Path:
    """Named for the backup's id, name and creation time: a new backup that reuses an id or a
    name never finds an old one's index."""
    stamp = int(backup.created.timestamp()) if backup.created else 0
    return cache_dir() / f"{backup.pk}-{backup.name}-{stamp}.tsv"


def check_readable(backup: Backup) -> None:
    if backup.phase not in FINISHED:
        raise ContentsUnavailable(
            f"backup {backup.name} is {backup.get_phase_display()}: only a finished backup has contents"
        )
    if backup.storage_location is None:
        raise ContentsUnavailable(f"backup {backup.name} has no storage location: its files are not known")


def cached(backup: Backup) -> TarballIndex | None:
    path = cache_path(backup)
    if not path.exists():
        return None
    try:
        return TarballIndex(str(path))
    except (IndexError_, OSError):
        path.unlink(missing_ok=True)  # damaged: fetched or built again
        return None


def open_index(backup: Backup, *, build: bool = True) -> TarballIndex:
    """The backup's index: the local copy, else the location's (downloaded), else built from the
    tarball (`build`), else NotIndexed. One process builds at a time (a file lock)."""
    check_readable(backup)
    found = cached(backup)
    if found is not None:
        return found
    directory = cache_dir()
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = cache_path(backup)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = cached(backup)  # another request made it meanwhile
            if found is not None:
                return found
            _fetch_or_build(backup, path, build)
            return TarballIndex(str(path))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)  # the lock file stays: removing it would race


def _fetch_or_build(backup: Backup, path: Path, build: bool) -> None:
    location = backup.storage_location
    assert location is not None
    store = location.store()
    key = backup_file_key("index", backup.name)
    with tempfile.TemporaryDirectory(prefix="index-", dir=path.parent) as work:
        packed = os.path.join(work, "index.gz")
        try:
            with store.open(key) as src, open(packed, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            unpack_index(packed, str(path))
            return
        except ObjectNotFoundError:
            pass
        except IndexError_ as error:
            logger.warning(
                "index of %s in %s unreadable, building it again: %s", backup.name, location.name, error
            )
        except (StorageError, OSError) as error:
            raise StorageUnreachable(f"storage location {location.name} cannot be read: {error}") from error
        if not build:
            raise NotIndexed(f"backup {backup.name} is not indexed yet: open it to index it")
        tarball = tarball_key(backup.name)
        try:
            size = store.size(tarball)
            with store.open(tarball) as stream:
                write_index(stream, packed, tarball_size=size)
        except ObjectNotFoundError as error:
            raise ContentsUnavailable(
                f"the tarball of {backup.name} is missing from {location.name}"
            ) from error
        except (StorageError, OSError) as error:
            raise StorageUnreachable(f"storage location {location.name} cannot be read: {error}") from error
        except IndexError_ as error:
            raise ContentsUnavailable(f"the tarball of {backup.name} cannot be read: {error}") from error
        if not store.read_only:
            try:
                store.put_file(key, packed)  # the next install or cache miss downloads it
            except StorageError as error:
                logger.warning("index of %s not stored in %s: %s", backup.name, location.name, error)
        unpack_index(packed, str(path))


INDEX_JOB_TIMEOUT = 3600


def index_job_id(backup_id: int) -> str:
    return f"veloweb-index-{backup_id}"


def _error_path(backup: Backup) -> Path:
    return Path(f"{cache_path(backup)}.error")


def build(backup_id: int) -> None:
    """The RQ job: fetch or build a backup's index (a tarball streamed once); a failure is kept
    beside the cache for the page to show once."""
    backup = Backup.objects.select_related("storage_location").filter(pk=backup_id).first()
    if backup is None:
        return
    try:
        open_index(backup)
    except ContentsUnavailable as error:
        os.makedirs(cache_dir(), mode=0o700, exist_ok=True)
        _error_path(backup).write_text(str(error))
    else:
        _error_path(backup).unlink(missing_ok=True)


def _request_build(backup: Backup) -> None:
    import django_rq
    from rq.job import JobStatus

    queue = django_rq.get_queue("default")
    job = queue.fetch_job(index_job_id(backup.pk))
    if job is not None and job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.STARTED):
        return
    queue.enqueue(
        "backups.services.backup_indexes.build", backup.pk, job_id=index_job_id(backup.pk),
        job_timeout=INDEX_JOB_TIMEOUT, result_ttl=0, failure_ttl=60,
    )  # fmt: skip


def open_or_request(backup: Backup) -> TarballIndex:
    """For pages: the index when it is at hand (the local copy, or the location's, downloaded);
    else a job builds it (streaming the tarball can take a minute for 300,000 items) and Indexing
    is raised. A build that failed says why, once; the next open tries again."""
    check_readable(backup)
    failed = _error_path(backup)
    if failed.exists():
        message = failed.read_text()
        failed.unlink(missing_ok=True)
        raise ContentsUnavailable(message)
    try:
        return open_index(backup, build=False)
    except NotIndexed:
        _request_build(backup)
        raise Indexing(
            f"Backup {backup.name} has no index yet (imported, or older than the index): it is being "
            "built now by reading the tarball once. This page reloads when it is ready.",
            backup,
        ) from None


def index_ready(backup: Backup) -> bool:
    """Whether a page waiting for the index can reload: it is built, or its build failed."""
    return cached(backup) is not None or _error_path(backup).exists()


def forget(backup: Backup) -> None:
    """Drop the local copy (the backup is deleted)."""
    path = cache_path(backup)
    for leftover in (path, Path(f"{path}.lock"), _error_path(backup)):
        leftover.unlink(missing_ok=True)
