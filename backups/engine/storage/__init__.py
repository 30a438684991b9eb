"""Object stores for finished backups, in Velero's object-store layout (spec part 2 (d)).

Two stores share one interface (`base.ObjectStore`): `local.LocalStore` (a directory) and
`s3.S3Store` (boto3). `upload.upload_backup` writes one backup in Velero's order and rolls back on
failure; `store_from_config` builds a store from a plain dict (the Django model calls it). This
module is the public surface: callers import from `backups.engine.storage`.
"""

from __future__ import annotations

from .base import ObjectNotFoundError, ObjectStore, StorageError, check_key, check_prefix
from .local import LocalStore
from .s3 import S3Store
from .upload import upload_backup

__all__ = [
    "LocalStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "S3Store",
    "StorageError",
    "check_key",
    "check_prefix",
    "store_from_config",
    "upload_backup",
]


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
