"""`S3Store`: an S3 bucket (AWS or compatible, e.g. MinIO) through boto3; big files go up in
multipart uploads."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import IO, BinaryIO

from backups.engine.velero_format.layout import (
    backup_dir,
)

from .base import (
    DELETE_BATCH,
    MULTIPART_CHUNK_SIZE,
    MULTIPART_THRESHOLD,
    TEMP_PREFIX,
    ObjectNotFoundError,
    StorageError,
    backups_prefix,
    check_key,
    check_prefix,
    check_range,
    os_cause,
)


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
            cause = os_cause(exc)
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

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        """`length` bytes from `offset` (fewer at the end of the object): one Range GET."""
        check_key(key)
        check_range(key, offset, length)
        try:
            response = self._client.get_object(
                Bucket=self.bucket, Key=self._full(key), Range=f"bytes={offset}-{offset + length - 1}"
            )
            return response["Body"].read()
        except StorageError:
            raise
        except Exception as exc:
            error = self._error(exc, "reading", key)
            if "InvalidRange" in str(error):  # the offset is past the end: nothing there
                return b""
            raise error from None

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
        base = backups_prefix(prefix)
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
        probe = f"{TEMP_PREFIX}probe-{uuid.uuid4().hex}"
        self.put_bytes(probe, b"veloweb")
        self.delete(probe)
