"""Object stores for finished backups, in Velero's object-store layout (spec part 2 (d)).

Two stores share one interface (`ObjectStore`): `LocalStore` (a directory; every write goes to a
temp file next to the target and is renamed into place, so a full disk or a crash never leaves a
half-written object under its real key) and `S3Store` (boto3; big files go up in multipart
uploads). Keys are `/`-separated paths relative to the store (its root directory, or its bucket and
prefix); `..` segments and absolute keys are refused with ValueError.

`upload_backup` writes one backup in Velero's order (log, metadata, tarball, the rest) and rolls
back on failure; `store_from_config` builds a store from a plain dict (the Django model calls it).
Every storage failure is a `StorageError` whose message names the location, the key and the cause.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from typing import IO, BinaryIO, Protocol, runtime_checkable

from backups.engine.velero_format.layout import (
    backup_dir,
    item_operations_key,
    logs_key,
    metadata_key,
    pod_volume_backups_key,
    resource_list_key,
    results_key,
    tarball_key,
    volume_info_key,
    volume_snapshots_key,
)

CHUNK_SIZE = 1024 * 1024
MULTIPART_THRESHOLD = 8 * 1024 * 1024
MULTIPART_CHUNK_SIZE = 8 * 1024 * 1024
DELETE_BATCH = 1000  # S3 DeleteObjects accepts at most 1000 keys per request

_TEMP_PREFIX = ".veloweb-tmp-"


class StorageError(Exception):
    """A storage operation failed; the message names the location, the key and the cause."""


class ObjectNotFoundError(StorageError):
    """The key does not exist in the store."""


@runtime_checkable
class ObjectStore(Protocol):
    location: str
    read_only: bool

    def put_file(self, key: str, path: str) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def put_stream(self, key: str, stream: IO[bytes]) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    def list_backups(self, prefix: str = "") -> list[str]: ...

    def open(self, key: str) -> BinaryIO: ...

    def size(self, key: str) -> int: ...

    def delete(self, key: str) -> None: ...

    def delete_backup(self, name: str, prefix: str = "") -> None: ...

    def check(self, create: bool = False) -> None: ...


# --- keys ---------------------------------------------------------------------------------------------


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key; ValueError for empty, absolute or `..` keys."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid storage key: {key!r}")
    if key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"storage key must be a relative path: {key!r}")
    parts = key.split("/")
    if any(part in ("..", ".") for part in parts) or "" in parts[:-1] or not parts[-1]:
        raise ValueError(f"invalid storage key (no '..', '.', empty segments or trailing '/'): {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix ("" allowed, a trailing `/` allowed); returns it unchanged."""
    if prefix:
        check_key(prefix.rstrip("/") or "/")
    return prefix


def _backups_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/backups/" if prefix else "backups/"


_ERRNO_CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error",
}


def _os_cause(exc: OSError) -> str:
    cause = _ERRNO_CAUSES.get(exc.errno or 0)
    return cause or (exc.strerror or str(exc)).lower()


# --- local directory ----------------------------------------------------------------------------------


class LocalStore:
    """A directory; key `a/b` is the file `<root>/a/b`."""

    def __init__(self, root: str, read_only: bool = False):
        if not root:
            raise ValueError("local storage needs a path")
        self.root = os.path.abspath(os.fspath(root))
        self.read_only = read_only
        self.location = f"local storage {self.root}"

    def __repr__(self) -> str:
        return f"LocalStore(root={self.root!r}, read_only={self.read_only})"

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *check_key(key).split("/"))

    def _error(self, cause: str, action: str, key: str) -> StorageError:
        return StorageError(f"{self.location}: {cause} while {action} {key}")

    def _writable(self, key: str) -> None:
        if self.read_only:
            raise StorageError(f"{self.location} is read-only: refusing to write {key}")

    # writes

    def put_file(self, key: str, path: str) -> None:
        self._writable(key)
        try:
            src = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise self._error(f"cannot read local file {path} ({_os_cause(exc)})", "writing", key) from exc
        with src:
            self.put_stream(key, src)

    def put_bytes(self, key: str, data: bytes) -> None:
        import io

        self.put_stream(key, io.BytesIO(data))

    def put_stream(self, key: str, stream: IO[bytes]) -> None:
        """Copy `stream` to a temp file next to the target, fsync, then rename onto the key."""
        self._writable(key)
        dest = self._path(key)
        parent = os.path.dirname(dest)
        try:
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=parent)
        except OSError as exc:
            raise self._error(_os_cause(exc), "writing", key) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    try:
                        chunk = stream.read(CHUNK_SIZE)
                    except OSError as exc:
                        raise self._error(
                            f"cannot read the source ({_os_cause(exc)})", "writing", key
                        ) from exc
                    if not chunk:
                        break
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise self._error(_os_cause(exc), "writing", key) from exc
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise self._error(_os_cause(exc), "writing", key) from exc
            try:
                os.replace(tmp, dest)
            except OSError as exc:
                raise self._error(_os_cause(exc), "writing", key) from exc
        except BaseException as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            if isinstance(exc, OSError) and not isinstance(exc, StorageError):
                # e.g. closing the temp file on a full disk
                raise self._error(_os_cause(exc), "writing", key) from exc
            raise

    def delete(self, key: str) -> None:
        self._writable(key)
        path = self._path(key)
        try:
            os.remove(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error(_os_cause(exc), "deleting", key) from exc
        self._prune(os.path.dirname(path))

    def delete_backup(self, name: str, prefix: str = "") -> None:
        directory = backup_dir(name, prefix).rstrip("/")
        self._writable(directory + "/")
        path = self._path(directory)
        if os.path.islink(path):
            raise self._error("backup directory is a symbolic link", "deleting", directory + "/")
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error(_os_cause(exc), "deleting", directory + "/") from exc

    def _prune(self, directory: str) -> None:
        """Remove empty directories from `directory` up to (not including) the root."""
        while directory != self.root and directory.startswith(self.root + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    # reads

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"{self.location}: {key} does not exist") from exc
        except OSError as exc:
            raise self._error(_os_cause(exc), "reading", key) from exc

    def size(self, key: str) -> int:
        try:
            return os.path.getsize(self._path(key))
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(f"{self.location}: {key} does not exist") from exc
        except OSError as exc:
            raise self._error(_os_cause(exc), "reading", key) from exc

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with `prefix`, sorted; temp files of writes in progress are not listed."""
        check_prefix(prefix)
        start_rel = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *start_rel.split("/")) if start_rel else self.root
        if not os.path.isdir(start):
            return
        found = []
        for dirpath, dirnames, filenames in os.walk(start, onerror=None):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, self.root)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            for filename in filenames:
                if filename.startswith(_TEMP_PREFIX):
                    continue
                key = rel_dir + filename
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def list_backups(self, prefix: str = "") -> list[str]:
        base = _backups_prefix(prefix)
        check_prefix(base)
        path = os.path.join(self.root, *base.rstrip("/").split("/"))
        try:
            entries = os.listdir(path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise self._error(_os_cause(exc), "listing", base) from exc
        folders = (os.path.join(path, e) for e in entries)
        return sorted(os.path.basename(f) for f in folders if os.path.isdir(f) and _has_entries(f))

    def check(self, create: bool = False) -> None:
        """The root exists and is writable (readable if read-only). A missing root is created only when
        asked (an admin saving the location): a vanished mount must read as unreachable, not as empty."""
        if not os.path.exists(self.root):
            if self.read_only or not create:
                raise StorageError(f"{self.location}: directory does not exist")
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"{self.location}: cannot create the directory ({_os_cause(exc)})"
                ) from exc
        if not os.path.isdir(self.root):
            raise StorageError(f"{self.location}: not a directory")
        if self.read_only:
            if not os.access(self.root, os.R_OK | os.X_OK):
                raise StorageError(f"{self.location}: directory is not readable")
            return
        try:
            fd, probe = tempfile.mkstemp(prefix=_TEMP_PREFIX + "probe-", dir=self.root)
            try:
                os.write(fd, b"veloweb")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise StorageError(f"{self.location}: directory is not writable ({_os_cause(exc)})") from exc


def _has_entries(directory: str) -> bool:
    """A backup folder is listed when it holds something, or cannot be read: then reading its
    velero-backup.json says why, for that backup alone, instead of failing the whole listing."""
    try:
        return bool(os.listdir(directory))
    except OSError:
        return True


# --- S3 -----------------------------------------------------------------------------------------------


class S3Store:
    """An S3 bucket (AWS or compatible, e.g. MinIO); keys live under the store's `prefix`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        region: str | None = None,
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        read_only: bool = False,
        max_attempts: int = 3,
        connect_timeout: float = 10,
    ):
        if not bucket:
            raise ValueError("s3 storage needs a bucket")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.region = region or None
        self.endpoint_url = endpoint_url or None
        self.access_key_id = access_key_id or None
        self.__secret = secret_access_key or None
        self.read_only = read_only
        self._max_attempts = max_attempts
        self._connect_timeout = connect_timeout
        self.delete_batch = DELETE_BATCH
        self._client_obj = None
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        under = f" (prefix '{self.prefix}')" if self.prefix else ""
        self.location = f"s3 bucket '{bucket}'{where}{under}"

    def __repr__(self) -> str:
        return (
            f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r}, region={self.region!r}, "
            f"endpoint_url={self.endpoint_url!r}, read_only={self.read_only})"
        )

    @property
    def _client(self):
        if self._client_obj is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise StorageError(f"{self.location}: boto3 is not installed") from exc
            session = boto3.session.Session(
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.__secret,
                region_name=self.region or ("us-east-1" if self.endpoint_url else None),
            )
            config = Config(
                retries={"max_attempts": self._max_attempts, "mode": "standard"},
                connect_timeout=self._connect_timeout,
                read_timeout=120,
                s3={"addressing_style": "path"} if self.endpoint_url else None,
            )
            self._client_obj = session.client("s3", endpoint_url=self.endpoint_url, config=config)
        return self._client_obj

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _writable(self, key: str) -> None:
        if self.read_only:
            raise StorageError(f"{self.location} is read-only: refusing to write {key}")

    def _error(self, exc: BaseException, action: str, key: str) -> StorageError:
        """Translate a boto3/botocore exception into a readable StorageError (never with the secret)."""
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        original = exc
        # boto3's upload_file wraps ClientError in S3UploadFailedError: look down the chain
        for _ in range(5):
            if isinstance(exc, ClientError | EndpointConnectionError):
                break
            inner = exc.__cause__ or exc.__context__
            if inner is None:
                break
            exc = inner
        if not isinstance(exc, ClientError | EndpointConnectionError):
            exc = original
        not_found = False
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                cause = f"bucket '{self.bucket}' does not exist"
            elif code in ("InvalidAccessKeyId", "InvalidClientTokenId"):
                cause = "the access key id is not known to the endpoint (check the credentials)"
            elif code == "SignatureDoesNotMatch":
                cause = "the secret access key does not match the access key id (check the credentials)"
            elif code in ("AccessDenied", "403") or status == 403:
                cause = "access denied (check the credentials and the bucket's permissions)"
            elif code in ("NoSuchKey", "404", "NotFound") or status == 404:
                cause, not_found = "not found", True
            else:
                message = error.get("Message") or ""
                cause = f"{code or status}: {message}".rstrip(": ")
        elif isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
            cause = f"cannot reach the endpoint {self.endpoint_url or '(AWS default)'}"
        elif isinstance(exc, ReadTimeoutError):
            cause = "the endpoint did not answer in time"
        elif isinstance(exc, NoCredentialsError | PartialCredentialsError):
            cause = "no credentials configured (set the access key id and secret access key)"
        elif isinstance(exc, OSError):
            cause = _os_cause(exc)
        else:
            cause = f"{type(exc).__name__}: {exc}"
        if self.__secret:
            cause = cause.replace(self.__secret, "***")
        cls = ObjectNotFoundError if not_found else StorageError
        return cls(f"{self.location}: {cause} while {action} {key}")

    # writes

    def put_file(self, key: str, path: str) -> None:
        self._writable(key)
        check_key(key)
        if not os.path.isfile(path):
            raise StorageError(f"{self.location}: cannot read local file {path} while writing {key}")
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNK_SIZE,
            max_concurrency=4,
        )
        try:
            self._client.upload_file(path, self.bucket, self._full(key), Config=config)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "writing", key) from None

    def put_stream(self, key: str, stream: IO[bytes]) -> None:
        self._writable(key)
        check_key(key)
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK_SIZE
        )
        try:
            self._client.upload_fileobj(stream, self.bucket, self._full(key), Config=config)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "writing", key) from None

    def put_bytes(self, key: str, data: bytes) -> None:
        self._writable(key)
        check_key(key)
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._full(key), Body=data)
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "writing", key) from None

    def delete(self, key: str) -> None:
        self._writable(key)
        check_key(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._full(key))
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "deleting", key) from None

    def delete_backup(self, name: str, prefix: str = "") -> None:
        directory = backup_dir(name, prefix)
        self._writable(directory)
        keys = [self._full(k) for k in self.list_keys(directory)]
        for start in range(0, len(keys), self.delete_batch):
            batch = keys[start : start + self.delete_batch]
            try:
                response = self._client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
            except StorageError:
                raise
            except Exception as exc:
                raise self._error(exc, "deleting", directory) from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"{self.location}: could not delete {len(errors)} object(s) of {directory}, "
                    f"e.g. {first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip()
                )

    # reads

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._full(key))
        except StorageError:
            raise
        except Exception as exc:
            error = self._error(exc, "reading", key)
            if isinstance(error, ObjectNotFoundError):
                return False
            raise error from None
        return True

    def open(self, key: str) -> BinaryIO:
        check_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._full(key))
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "reading", key) from None
        return response["Body"]

    def size(self, key: str) -> int:
        check_key(key)
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=self._full(key))
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "reading", key) from None
        return int(response["ContentLength"])

    def _paginate(self, prefix: str, **kwargs) -> Iterator[dict]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=self._full(prefix) if prefix else self._base(), **kwargs
        )
        try:
            yield from pages
        except StorageError:
            raise
        except Exception as exc:
            raise self._error(exc, "listing", prefix or "(all keys)") from None

    def _base(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        base = len(self._base())
        for page in self._paginate(prefix):
            for item in page.get("Contents") or []:
                yield item["Key"][base:]

    def list_backups(self, prefix: str = "") -> list[str]:
        base = _backups_prefix(prefix)
        check_prefix(base)
        names = []
        for page in self._paginate(base, Delimiter="/"):
            for common in page.get("CommonPrefixes") or []:
                names.append(common["Prefix"][len(self._full(base)) :].rstrip("/"))
        return sorted(n for n in names if n)

    def check(self, create: bool = False) -> None:
        """The bucket lists (what browsing needs) and, unless read-only, accepts a tiny put and delete.

        A listing, not head_bucket: a HEAD response has no body, so S3 could not say whether the
        access key id or the secret is wrong."""
        try:
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self._base(), MaxKeys=1)
        except StorageError:
            raise
        except Exception as exc:
            error = self._error(exc, "checking", "the bucket")
            if isinstance(error, ObjectNotFoundError):  # a bare 404 from a non-AWS server
                error = StorageError(f"{self.location}: bucket '{self.bucket}' does not exist")
            raise error from None
        if self.read_only:
            return
        probe = f"{_TEMP_PREFIX}probe-{uuid.uuid4().hex}"
        self.put_bytes(probe, b"veloweb")
        self.delete(probe)


# --- one backup ---------------------------------------------------------------------------------------

_KIND_KEYS = {
    "log": logs_key,
    "metadata": metadata_key,
    "tarball": tarball_key,
    "results": results_key,
    "resource-list": resource_list_key,
    "volume-snapshots": volume_snapshots_key,
    "pod-volume-backups": pod_volume_backups_key,
    "item-operations": item_operations_key,
    "volume-info": volume_info_key,
}
_REST_ORDER = [
    "results",
    "resource-list",
    "volume-snapshots",
    "pod-volume-backups",
    "item-operations",
    "volume-info",
]


def upload_backup(store: ObjectStore, name: str, files: dict[str, str], prefix: str = "") -> list[str]:
    """Upload one backup's files in Velero's order; returns warnings, raises StorageError.

    `files` maps a kind (`log`, `metadata`, `tarball`, `results`, `resource-list`, `volume-snapshots`,
    `pod-volume-backups`, `item-operations`, `volume-info`) to a local path; `metadata` and `tarball`
    are required. Refuses a name whose `velero-backup.json` already exists before writing anything.
    Order (Velero's PutBackup): log (a failure is only a warning), metadata, tarball, the rest. A
    failure after the log removes every key this call wrote (metadata first, so a half-removed backup
    is never visible), then raises; keys of other backups are never touched.
    """
    unknown = sorted(set(files) - set(_KIND_KEYS))
    if unknown:
        raise ValueError(f"unknown backup file kind(s): {', '.join(unknown)}")
    for required in ("metadata", "tarball"):
        if not files.get(required):
            raise ValueError(f"backup {name}: the {required} file is required")
    meta = metadata_key(name, prefix)
    if store.exists(meta):
        raise StorageError(f"backup {name} already exists in {store.location}")
    if store.read_only:
        raise StorageError(f"{store.location} is read-only: refusing to upload backup {name}")

    warnings: list[str] = []
    written: list[str] = []
    if files.get("log"):
        key = logs_key(name, prefix)
        try:
            store.put_file(key, files["log"])
            written.append(key)
        except Exception as exc:
            warnings.append(f"backup log not uploaded: {exc}")

    for kind in ["metadata", "tarball", *_REST_ORDER]:
        path = files.get(kind)
        if not path:
            continue
        key = _KIND_KEYS[kind](name, prefix)
        try:
            store.put_file(key, path)
        except Exception as exc:
            problems = _rollback(store, [key, *written], meta)
            note = (
                "; removed the partial backup" if not problems else f"; cleanup failed: {'; '.join(problems)}"
            )
            raise StorageError(f"backup {name}: uploading the {kind} failed: {exc}{note}") from exc
        written.append(key)
    return warnings


def _rollback(store: ObjectStore, keys: list[str], meta: str) -> list[str]:
    """Delete `keys` (metadata first); returns the problems met, never raises."""
    ordered = [meta] if meta in keys else []
    ordered += [k for k in reversed(keys) if k != meta]
    problems = []
    for key in ordered:
        try:
            store.delete(key)
        except Exception as exc:  # keep deleting the others
            problems.append(str(exc))
    return problems


# --- configuration ------------------------------------------------------------------------------------


def store_from_config(config: dict) -> ObjectStore:
    """Build a store from `{"provider": "local", "path": ...}` or `{"provider": "s3", "bucket": ...}`.

    S3 keys: bucket, prefix, region, endpoint_url, access_key_id, secret_access_key; both accept
    read_only. Empty strings count as unset.
    """
    provider = str(config.get("provider") or "").lower()
    read_only = bool(config.get("read_only", False))
    if provider in ("local", "filesystem", "file"):
        path = config.get("path")
        if not path:
            raise ValueError("local storage needs a 'path'")
        return LocalStore(path, read_only=read_only)
    if provider in ("s3", "aws"):
        bucket = config.get("bucket")
        if not bucket:
            raise ValueError("s3 storage needs a 'bucket'")
        return S3Store(
            bucket,
            prefix=config.get("prefix") or "",
            region=config.get("region") or None,
            endpoint_url=config.get("endpoint_url") or None,
            access_key_id=config.get("access_key_id") or None,
            secret_access_key=config.get("secret_access_key") or None,
            read_only=read_only,
        )
    raise ValueError(f"unknown storage provider: {config.get('provider')!r} (expected 'local' or 's3')")
