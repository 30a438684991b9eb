"""The backup tarball of a Velero backup (format 1.1.0, spec 2 (d), (e)).

Parallel block workers never share a tar writer. Each ItemBlock writes its own gzip member holding
tar entries (headers, bodies, padding; no end-of-archive blocks) with `BlockArchiveWriter`. A member
is written under a temporary `*.partial` name and renamed onto its final name only when complete, so
a killed worker never leaves a half member under a final name, and a retried block's member simply
replaces the old one. `assemble_tarball` then concatenates, byte for byte:

    gzip(metadata/version entry) + member_1 + ... + member_n + gzip(two 512-byte zero blocks)

A concatenation of gzip members is one valid gzip stream (RFC 1952 section 2.2) whose content is one
valid tar stream, which Go's, Python's and GNU gzip/tar readers all read.

Beside each member, `<member>.entries` (written after it, with the member's size and gzip trailer
so a rewritten member is never paired with an old one) says where each object's body is in the
decompressed member and its content hash: the rows of the tarball index (`tarball_index`).

Usage by a block worker and the finalize step::

    with BlockArchiveWriter(block_member_path(staging, index)) as writer:
        for key, obj in items:
            writer.add_item(key, obj, preferred=key.version == info.version)
    ...
    assemble_tarball(closed_members(staging), "/tmp/x/backup-1.tar.gz")
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import json
import os
import tarfile
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

import orjson

from backups.engine.items import ItemKey

from .layout import (
    BACKUP_FORMAT_VERSION,
    PREFERRED_VERSION_SUFFIX,
    VERSION_ENTRY,
    item_entry_names,
    parse_item_path,
)

__all__ = [
    "BlockArchiveWriter",
    "assemble_tarball",
    "block_member_path",
    "closed_members",
    "remove_partial_members",
    "member_is_complete",
    "read_archive_items",
]

ENTRY_MODE = 0o755
BLOCK = tarfile.BLOCKSIZE  # 512
END_OF_ARCHIVE = b"\0" * (2 * BLOCK)
PARTIAL_SUFFIX = ".partial"
ENTRIES_SUFFIX = ".entries"  # beside a member: where each object is in it (the tarball index's rows)
DIGEST_CHARS = 16
MEMBER_PREFIX = "block-"
MEMBER_SUFFIX = ".tar.gz-member"
COPY_BUFFER = 1 << 20
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib writes a gzip header and trailer


# --- low level: tar entries inside gzip members ------------------------------------------------------


_USTAR_MIDDLE = b"%07o\0" % ENTRY_MODE + b"0000000\x000000000\x00"  # mode, uid, gid
_USTAR_TAIL = (
    b"0"  # typeflag: regular file
    + b"\0" * 100  # linkname
    + b"ustar\x0000"  # magic + version
    + b"\0" * 64  # uname, gname
    + b"\0" * 16  # devmajor, devminor (empty for regular files, as tarfile writes them)
    + b"\0" * 167  # prefix + pad
)


def _tar_header(name: str, size: int, mtime: int) -> bytes:
    """A regular-file header, as Velero's tar.Writer writes one (mode 0755, uid/gid 0, no owner names).

    PAX format: a plain ustar header unless the name needs more (long or non-ASCII names get a pax
    extended header, which Go's archive/tar reads). The common case (ASCII name up to 100 bytes) is
    built directly, byte-identical to `tarfile`'s output and ~10x faster.
    """
    if len(name) <= 100 and name.isascii() and 0 <= size < 8**11 and 0 <= mtime < 8**11:
        buf = b"".join(
            (
                name.encode("ascii").ljust(100, b"\0"),
                _USTAR_MIDDLE,
                b"%011o\0%011o\0" % (size, mtime),
                b"        ",  # checksum placeholder
                _USTAR_TAIL,
            )
        )
        return b"%s%06o\0 %s" % (buf[:148], sum(buf), buf[156:])
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = ENTRY_MODE
    info.mtime = mtime  # an int, so no pax "mtime" record
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _tar_entry(name: str, body: bytes, mtime: int) -> bytes:
    return _tar_header(name, len(body), mtime) + body + b"\0" * (-len(body) % BLOCK)


def _gzip_member(data: bytes, level: int = 6) -> bytes:
    z = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    return z.compress(data) + z.flush()


def _compact_json(obj) -> bytes:
    return orjson.dumps(obj)


def _temp_name(path: str) -> str:
    return f"{path}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}"


def _publish(tmp: str, path: str, fsync: bool) -> None:
    """Rename a finished temp file onto its final name (atomic on one filesystem)."""
    os.replace(tmp, path)
    if fsync:
        try:
            fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


@contextmanager
def _written_atomically(path: str, fsync: bool = True) -> Iterator[BinaryIO]:
    """A file that appears under `path` only when complete: a failure leaves nothing behind."""
    tmp = _temp_name(path)
    try:
        with open(tmp, "xb") as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        _publish(tmp, path, fsync)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# --- block members -----------------------------------------------------------------------------------


def block_member_path(staging_dir: str, block_index: int) -> str:
    """The final name of block `block_index`'s member: re-running the block reuses (replaces) it."""
    return os.path.join(staging_dir, f"{MEMBER_PREFIX}{block_index:07d}{MEMBER_SUFFIX}")


def closed_members(staging_dir: str) -> list[str]:
    """Every closed block member in `staging_dir`, in block order; `*.partial` files are never listed."""
    return sorted(glob.glob(os.path.join(glob.escape(staging_dir), f"{MEMBER_PREFIX}*{MEMBER_SUFFIX}")))


def remove_partial_members(staging_dir: str) -> list[str]:
    """Delete temp files left by killed writers; returns what was removed."""
    removed = glob.glob(os.path.join(glob.escape(staging_dir), f"*{PARTIAL_SUFFIX}"))
    for path in removed:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return removed


def member_is_complete(path: str) -> bool:
    """Full check of a member file: every gzip member ends with a valid trailer (CRC and length) and
    the tar content is whole 512-byte blocks. A truncated member (killed writer) fails."""
    try:
        size = 0
        with gzip.open(path, "rb") as f:
            while chunk := f.read(COPY_BUFFER):
                size += len(chunk)
        return size % BLOCK == 0
    except (OSError, EOFError, zlib.error):
        return False


class BlockArchiveWriter:
    """Writes one ItemBlock's objects as one gzip member of tar entries, streaming.

    Data goes to `<path>.<random>.partial`; `close()` renames it onto `path` (replacing a member left
    by an earlier run of the same block). `abort()` (or leaving the `with` block by an exception)
    deletes the temp file and publishes nothing. Not thread-safe: one writer per worker.
    """

    def __init__(self, path: str | os.PathLike, *, compresslevel: int = 6, fsync: bool = True):
        self.path = os.fspath(path)
        self.fsync = fsync
        self.entries: list[str] = []
        self.raw_bytes = 0  # uncompressed tar bytes written
        self.closed = False
        # one row per object for the tarball index: resource, namespace, name, rank+version,
        # offset of its body in the decompressed member, size, content hash
        self.index_rows: list[str] = []
        self._tmp = _temp_name(self.path)
        self._file = open(self._tmp, "xb", buffering=COPY_BUFFER)  # closed by close()/abort()
        self._z = zlib.compressobj(compresslevel, zlib.DEFLATED, _GZIP_WBITS)

    @property
    def temp_path(self) -> str:
        return self._tmp

    def _write(self, data: bytes) -> None:
        self.raw_bytes += len(data)
        out = self._z.compress(data)
        if out:
            self._file.write(out)

    def add_item(self, key: ItemKey, obj: dict | bytes, preferred: bool = True) -> list[str]:
        """Append one object: two identical entries at the preferred version, else one under
        `<version>/`. `obj` may already be compact JSON bytes (read back from the spool as
        collected), which then go into the archive as they are. Returns the entry names written."""
        if self.closed:
            raise ValueError("BlockArchiveWriter is closed")
        names = item_entry_names(key, preferred)
        body = obj if isinstance(obj, bytes) else _compact_json(obj)
        mtime = int(time.time())
        first_header = _tar_header(names[0], len(body), mtime)
        body_at = self.raw_bytes + len(first_header)
        padding = b"\0" * (-len(body) % BLOCK)
        rest = b"".join(_tar_entry(name, body, mtime) for name in names[1:])
        self._write(b"".join((first_header, body, padding, rest)))
        self.entries.extend(names)
        parsed = parse_item_path(names[0])
        if parsed is not None:
            rank = "0" if parsed["preferred"] else "2"
            version = parsed["version_dir"].removesuffix(PREFERRED_VERSION_SUFFIX)
            digest = hashlib.sha256(body).hexdigest()[:DIGEST_CHARS]
            self.index_rows.append(
                f"{parsed['group_resource']}\t{parsed['namespace']}\t{parsed['name']}\t{rank}{version}"
                f"\t{body_at}\t{len(body)}\t{digest}"
            )
        return names

    def close(self) -> list[str]:
        """Finish the gzip member, fsync, rename it onto `path`; returns the entry names written."""
        if self.closed:
            return list(self.entries)
        try:
            self._file.write(self._z.flush())
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self._file.close()
            _publish(self._tmp, self.path, self.fsync)
        except BaseException:
            self.abort()
            raise
        self.closed = True
        try:
            write_member_entries(self.path, self.index_rows, self.fsync)
        except OSError:
            pass  # the index scans this member instead
        return list(self.entries)

    def abort(self) -> None:
        """Discard everything written; the final name is left untouched."""
        self.closed = True
        if not self._file.closed:
            self._file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass

    def __enter__(self) -> BlockArchiveWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self.closed:
            self.abort()


def member_fingerprint(path: str) -> str:
    """A member's size and gzip trailer (CRC-32 and length of its content): a rewritten member
    (a retried batch) does not match the entries file of the one before."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 8))
        return f"{size}:{f.read(8).hex()}"


def entries_path(member: str) -> str:
    return member + ENTRIES_SUFFIX


def write_member_entries(member: str, rows: list[str], fsync: bool = True) -> None:
    """`<member>.entries`: the member's fingerprint, then one index row per object."""
    with _written_atomically(entries_path(member), fsync) as out:
        out.write((member_fingerprint(member) + "\n").encode())
        out.write("".join(f"{row}\n" for row in rows).encode("utf-8", "surrogateescape"))


def read_member_entries(member: str) -> list[str] | None:
    """The member's index rows, or None when its entries file is missing or belongs to another
    version of the member."""
    try:
        with open(entries_path(member), "rb") as f:
            fingerprint = f.readline().decode().strip()
            if fingerprint != member_fingerprint(member):
                return None
            return f.read().decode("utf-8", "surrogateescape").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


# --- the final tarball -------------------------------------------------------------------------------


def version_member(mtime: int | None = None) -> bytes:
    """The first member: the `metadata/version` entry (`1.1.0\\n`)."""
    body = f"{BACKUP_FORMAT_VERSION}\n".encode()
    return _gzip_member(_tar_entry(VERSION_ENTRY, body, int(time.time()) if mtime is None else mtime))


def end_member() -> bytes:
    """The last member: tar's end-of-archive marker (two zero blocks)."""
    return _gzip_member(END_OF_ARCHIVE)


def assemble_tarball(
    member_paths: list[str],
    out_path: str,
    *,
    buffer_size: int = COPY_BUFFER,
    fsync: bool = True,
    member_offsets: list[int] | None = None,
) -> int:
    """Write `<name>.tar.gz`: version member + `member_paths` in order + end member, by byte copy.

    Only closed members are accepted (a `*.partial` name, a missing file, a file that does not start
    with the gzip magic, or a path given twice raise ValueError). Written to a temp name and renamed
    onto `out_path`. Returns the tarball's size in bytes; `member_offsets`, when given, receives
    where each member starts in the tarball.
    """
    seen: set[str] = set()
    for path in member_paths:
        real = os.path.realpath(path)
        if real in seen:
            raise ValueError(f"block member given twice: {path}")
        seen.add(real)
        if path.endswith(PARTIAL_SUFFIX):
            raise ValueError(f"not a closed block member: {path}")
    size = 0
    with _written_atomically(out_path, fsync) as out:
        head = version_member()
        out.write(head)
        size += len(head)
        for path in member_paths:
            if member_offsets is not None:
                member_offsets.append(size)
            with open(path, "rb") as member:
                magic = member.read(2)
                if magic != b"\x1f\x8b":
                    if not magic:  # a zero-byte file is not a gzip member (an empty block's is 20 bytes)
                        raise ValueError(f"empty block member: {path}")
                    raise ValueError(f"not a gzip member: {path}")
                out.write(magic)
                size += 2
                while chunk := member.read(buffer_size):
                    out.write(chunk)
                    size += len(chunk)
        tail = end_member()
        out.write(tail)
        size += len(tail)
    return size


def read_archive_items(path: str, *, each_object_once: bool = False) -> Iterator[tuple[str, dict]]:
    """Stream `(entry_name, object)` for every `resources/**.json` entry of a tarball, in archive order.

    With `each_object_once`, the `-preferredversion/` copies are skipped (their unversioned twin is
    identical), so each object is yielded once. Constant memory: one object at a time.

    Reads through `gzip.open` (multi-member aware): CPython's own `tarfile.open(path, "r|gz")` stream
    mode stops silently after the FIRST gzip member, so it would see only `metadata/version`.
    Random-access `"r:gz"` and Go's gzip.Reader (multistream by default) read the whole tarball.
    """
    with gzip.open(path, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            parsed = parse_item_path(member.name)
            if parsed is None or (each_object_once and parsed["preferred"]):
                continue
            f = tar.extractfile(member)
            if f is not None:  # a regular file always has a body
                yield member.name, json.load(f)
