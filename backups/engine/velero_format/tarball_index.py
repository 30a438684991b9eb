"""An index of a backup's tarball, so one item is read with one ranged read of the tarball.

The tarball is a concatenation of gzip members (`archive.assemble_tarball`; Velero's own tarballs
are one member). Per object, the index says where its bytes are:

    member_offset  where the gzip member holding the entry starts in the tarball
    read_length    compressed bytes to read from there to have the whole entry decompressed
                   (the member, or less when the entry ends early in a big member)
    entry_offset   where the entry's body starts in the decompressed member
    size, digest   the body's size and a content hash (to compare backups without reading them)

At finalize (`write_index_of_members`) the rows come from the members' entries files, which each
`BlockArchiveWriter` writes as it writes its member; a member without a matching one is scanned.
A tarball with no index (imported, or older) is scanned once, streaming (`write_index`).

The index is one line per object, tab-separated, sorted by (resource, namespace, name), behind
a JSON header line with the counts by resource and namespace. Sorted, it is binary-searched for
one item, range-scanned for one resource and merge-joined with another backup's index for a diff,
all in constant memory. It is kept as a file and not as database rows: 300,000 items are ~25 MB of
text (~8 MB gzip) written and read sequentially, which a table would hold as 300,000 rows to insert
at finalize and to delete with the backup. The copy in the storage location
(`<name>-veloweb-index.tsv.gz`, a file Velero does not know and ignores) is gzip; a reader keeps an
uncompressed copy locally to seek in.

Each object appears once: the `-preferredversion` copy (which names the version), else the
unversioned copy, else its first `<version>/` copy.
"""
from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

from .archive import read_member_entries
from .layout import PREFERRED_VERSION_SUFFIX, parse_item_path

FORMAT = "veloweb-tarball-index/1"
SCAN_CHUNK = 1 << 16
SORT_RUN = 50_000  # lines sorted in memory at once; longer indexes are merged from sorted runs
DIGEST_CHARS = 16
BLOCK = 512
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class IndexError_(ValueError):
    """The tarball or the index cannot be read as one; the message says where and why."""


@dataclass(frozen=True, slots=True)
class IndexEntry:
    group_resource: str
    namespace: str
    name: str
    version: str
    member_offset: int
    read_length: int
    entry_offset: int
    size: int
    digest: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group_resource, self.namespace, self.name)

    def line(self) -> str:
        return "\t".join(
            (
                self.group_resource, self.namespace, self.name, self.version, str(self.member_offset),
                str(self.read_length), str(self.entry_offset), str(self.size), self.digest,
            )
        )  # fmt: skip

    @classmethod
    def parse(cls, line: str) -> IndexEntry:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 9:
            raise IndexError_(f"index line has {len(parts)} fields, expected 9: {line[:120]!r}")
        gr, ns, name, version, member, length, offset, size, digest = parts
        return cls(gr, ns, name, version, int(member), int(length), int(offset), int(size), digest)


# --- scanning a tarball --------------------------------------------------------------------------


@dataclass(slots=True)
class _Piece:
    """Decompressed bytes [start, start + n) of the stream came from the member at `member` (at
    `member_out` in it); once they were out, `consumed` compressed bytes had been read."""

    start: int
    member: int
    member_out: int
    consumed: int


class _Inflater:
    """Decompresses a stream of concatenated gzip members, remembering which member each
    decompressed byte came from."""

    def __init__(self, stream: BinaryIO, chunk: int = SCAN_CHUNK):
        self.stream, self.chunk = stream, chunk

    def pieces(self) -> Iterator[tuple[bytes, _Piece]]:
        consumed = 0  # compressed bytes fed so far
        member = 0  # compressed offset of the current member
        member_out = 0  # decompressed bytes of the current member so far
        out = 0  # decompressed bytes so far
        z = zlib.decompressobj(_GZIP_WBITS)
        pending = b""
        started = False  # bytes of the current member were fed
        while True:
            data = pending or self.stream.read(self.chunk)
            pending = b""
            if not data:
                break
            if not started and data[:1] != b"\x1f":
                if data.strip(b"\0"):  # zero padding after the last member is tolerated
                    raise IndexError_(f"not a gzip member at byte {consumed} of the tarball")
                consumed += len(data)
                continue
            started = True
            try:
                produced = z.decompress(data)
            except zlib.error as error:
                raise IndexError_(f"the tarball is damaged near byte {consumed}: {error}") from error
            used = len(data) - len(z.unused_data) if z.eof else len(data)
            consumed += used
            if produced:
                yield produced, _Piece(out, member, member_out, consumed)
                out += len(produced)
                member_out += len(produced)
            if z.eof:
                pending = z.unused_data
                member, member_out, started = consumed, 0, False
                z = zlib.decompressobj(_GZIP_WBITS)
        if started and not z.eof:
            raise IndexError_(f"the tarball ends inside a gzip member (at byte {consumed}): truncated")


def _octal(field: bytes, what: str, at: int) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise IndexError_(f"tar header at byte {at}: bad {what} field {field!r}") from None


def _pax_records(body: bytes) -> dict[str, str]:
    records, pos = {}, 0
    while pos < len(body):
        space = body.find(b" ", pos)
        if space < 0:
            break
        length = int(body[pos:space])
        record = body[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


@dataclass(slots=True)
class RawEntry:
    """One `resources/` file of the tarball, where it is and what it hashes to."""

    name: str
    member_offset: int
    read_length: int
    entry_offset: int
    size: int
    digest: str


def scan_tarball(stream: BinaryIO, chunk: int = SCAN_CHUNK) -> Iterator[RawEntry]:
    """Every `resources/**.json` file of a tarball in archive order, with where its body is;
    reads `stream` once, in constant memory (one entry body at a time)."""
    buf = bytearray()
    pieces: list[_Piece] = []
    base = 0  # stream offset of buf[0]
    source = _Inflater(stream, chunk).pieces()
    done = False

    def fill(upto: int) -> bool:
        nonlocal done
        while base + len(buf) < upto and not done:
            try:
                data, piece = next(source)
            except StopIteration:
                done = True
                break
            buf.extend(data)
            pieces.append(piece)
        return base + len(buf) >= upto

    def piece_at(offset: int) -> _Piece:
        lo, hi = 0, len(pieces) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if pieces[mid].start <= offset:
                lo = mid
            else:
                hi = mid - 1
        return pieces[lo]

    pos = 0
    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        if not fill(pos + BLOCK):
            if base + len(buf) > pos:
                raise IndexError_(f"the tar stream ends inside a header at byte {pos}")
            return
        header = bytes(buf[pos - base : pos - base + BLOCK])
        at = pos
        pos += BLOCK
        if not header.strip(b"\0"):
            continue  # end-of-archive blocks
        typeflag = header[156:157]
        size = _octal(header[124:136], "size", at)
        if "size" in pax:
            size = int(pax["size"])
        start, end = pos, pos + size
        pos = end + (-size % BLOCK)
        if typeflag in (b"x", b"g", b"L"):
            if not fill(end):
                raise IndexError_(f"the tar stream ends inside the entry at byte {at}")
            body = bytes(buf[start - base : end - base])
            if typeflag == b"x":
                pax = _pax_records(body)
            elif typeflag == b"L":
                long_name = body.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        else:
            name = header[:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            if header[257:262] == b"ustar" and prefix:
                name = f"{prefix}/{name}"
            name = pax.get("path") or long_name or name
            pax, long_name = {}, None
            if typeflag in (b"0", b"\0") and name.startswith("resources/") and name.endswith(".json"):
                if not fill(end):
                    raise IndexError_(f"the tar stream ends inside {name}")
                body = bytes(buf[start - base : end - base])
                first = piece_at(start)
                last = piece_at(end - 1) if size else first
                yield RawEntry(
                    name=name,
                    member_offset=first.member,
                    read_length=last.consumed - first.member,
                    entry_offset=first.member_out + (start - first.start),
                    size=size,
                    digest=hashlib.sha256(body).hexdigest()[:DIGEST_CHARS],
                )
        # drop what is behind: keep the piece holding `pos` (the next header starts in it)
        if pos - base > (1 << 20):
            limit = base + len(buf)
            if pos >= limit:
                buf.clear()
                pieces.clear()
                base = limit
            else:
                keep = piece_at(pos)
                del buf[: keep.start - base]
                base = keep.start
                pieces = [p for p in pieces if p.start >= keep.start]


def index_entries(stream: BinaryIO) -> Iterator[IndexEntry]:
    """The tarball's objects as index entries, in archive order, twin copies still in."""
    for raw in scan_tarball(stream):
        parsed = parse_item_path(raw.name)
        if parsed is None:
            continue
        version = parsed["version_dir"]
        if parsed["preferred"]:
            version = version[: -len(PREFERRED_VERSION_SUFFIX)]
        # rank in the version field's place while sorting: preferred copy, unversioned, versioned
        yield IndexEntry(
            parsed["group_resource"], parsed["namespace"], parsed["name"],
            ("0" if parsed["preferred"] else "1" if not version else "2") + version,
            raw.member_offset, raw.read_length, raw.entry_offset, raw.size, raw.digest,
        )  # fmt: skip


# --- writing the index ---------------------------------------------------------------------------


def _sorted_lines(lines: Iterable[str], workdir: str) -> Iterator[str]:
    """`lines` sorted, in memory up to SORT_RUN lines, else merged from sorted runs on disk."""
    run: list[str] = []
    runs: list[str] = []
    for line in lines:
        run.append(line)
        if len(run) >= SORT_RUN:
            run.sort()
            fd, path = tempfile.mkstemp(prefix="index-run-", dir=workdir)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(f"{x}\n" for x in run)
            runs.append(path)
            run = []
    run.sort()
    if not runs:
        yield from run
        return
    with ExitStack() as stack:
        files = [stack.enter_context(open(p, encoding="utf-8")) for p in runs]
        streams = [(x.rstrip("\n") for x in f) for f in files]
        yield from heapq.merge(*streams, iter(run))
    for path in runs:
        os.unlink(path)


def _one_per_object(lines: Iterator[str]) -> Iterator[list[str]]:
    """Sorted twin lines (same object, several copies) -> the fields of the best copy of each
    object, its version without the rank."""
    last: list[str] | None = None
    for line in lines:
        fields = line.split("\t")
        if len(fields) != 9:
            raise IndexError_(f"index line has {len(fields)} fields, expected 9: {line[:120]!r}")
        if last is not None and fields[:3] == last[:3]:
            continue
        fields[3] = fields[3][1:]  # without the rank
        last = fields
        yield fields


def _write_sorted(lines: Iterable[str], out_path: str, tarball_size: int | None, gz: bool) -> dict:
    folder = os.path.dirname(os.path.abspath(out_path))
    with tempfile.TemporaryDirectory(prefix="index-", dir=folder) as work:
        body_path = os.path.join(work, "body")
        types: dict[str, int] = {}
        namespaces: dict[str, int] = {}
        items = 0
        with open(body_path, "w", encoding="utf-8", errors="surrogateescape") as body:
            for fields in _one_per_object(_sorted_lines(lines, work)):
                body.write("\t".join(fields) + "\n")
                items += 1
                types[fields[0]] = types.get(fields[0], 0) + 1
                namespaces[fields[1]] = namespaces.get(fields[1], 0) + 1
        header = {
            "format": FORMAT,
            "tarball_size": tarball_size,
            "items": items,
            "types": dict(sorted(types.items())),
            "namespaces": dict(sorted(namespaces.items())),
        }
        tmp = os.path.join(work, "out")
        with (
            gzip.open(tmp, "wb", compresslevel=3) if gz else open(tmp, "wb") as out,
            open(body_path, "rb") as src,
        ):
            out.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
            while chunk := src.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, out_path)
    return header


def write_index(
    tarball: BinaryIO, out_path: str, *, tarball_size: int | None = None, gz: bool = True
) -> dict:
    """Scan `tarball` and write its index to `out_path` (gzip unless `gz=False`), atomically;
    returns the header (counts by resource and namespace)."""
    return _write_sorted((e.line() for e in index_entries(tarball)), out_path, tarball_size, gz)


def write_index_of_file(tarball_path: str, out_path: str) -> dict:
    with open(tarball_path, "rb") as tarball:
        return write_index(tarball, out_path, tarball_size=os.path.getsize(tarball_path))


def _member_lines(members: list[str], offsets: list[int]) -> Iterator[str]:
    """Index lines of the assembled members: from each member's entries file (written with it by
    `BlockArchiveWriter`), or by scanning the member when it has none that matches."""
    for path, offset in zip(members, offsets, strict=True):
        length = os.path.getsize(path)
        rows = read_member_entries(path)
        if rows is None:
            with open(path, "rb") as member:
                for entry in index_entries(member):
                    yield IndexEntry(
                        entry.group_resource, entry.namespace, entry.name, entry.version,
                        entry.member_offset + offset, entry.read_length, entry.entry_offset, entry.size,
                        entry.digest,
                    ).line()  # fmt: skip
            continue
        where = f"\t{offset}\t{length}\t"
        for row in rows:
            gr, ns, name, version, rest = row.split("\t", 4)
            yield f"{gr}\t{ns}\t{name}\t{version}{where}{rest}"


def write_index_of_members(
    members: list[str], offsets: list[int], out_path: str, *, tarball_size: int | None = None
) -> dict:
    """The index of a tarball just assembled from `members` (at `offsets` in it) without reading
    it again: each member's rows come from its entries file; one read of a member is all of it."""
    return _write_sorted(_member_lines(members, offsets), out_path, tarball_size, gz=True)


# --- reading the index ---------------------------------------------------------------------------


class TarballIndex:
    """An uncompressed index file: its header, its entries in order, one entry by key (binary
    search), and the entries of one resource type (a range)."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            first = f.readline()
            self._body = f.tell()
        try:
            self.header = json.loads(first)
        except ValueError:
            raise IndexError_(f"{path} is not a tarball index (no header line)") from None
        if not isinstance(self.header, dict) or self.header.get("format") != FORMAT:
            raise IndexError_(f"{path} is not a {FORMAT} index")
        self._end = os.path.getsize(path)

    @property
    def items(self) -> int:
        return int(self.header.get("items") or 0)

    @property
    def types(self) -> dict[str, int]:
        return dict(self.header.get("types") or {})

    @property
    def namespaces(self) -> dict[str, int]:
        return dict(self.header.get("namespaces") or {})

    def _seek_first(self, f: BinaryIO, prefix: bytes) -> None:
        """Position `f` at the first line >= `prefix` (lines are sorted bytewise): a binary
        search over byte offsets, each probe realigned to the next line start."""

        def line_start(at: int) -> int:
            if at <= self._body:
                return self._body
            f.seek(at - 1)
            f.readline()
            return f.tell()

        lo, hi = self._body, self._end
        while lo < hi:
            mid = (lo + hi) // 2
            start = line_start(mid)
            if start >= self._end:
                hi = mid
                continue
            f.seek(start)
            if f.readline() >= prefix:
                hi = mid
            else:
                lo = mid + 1
        f.seek(line_start(lo))

    def lines(self, group_resource: str | None = None, namespace: str | None = None) -> Iterator[bytes]:
        """Every line in order (bytes, newline included), or those of one resource type (and one
        namespace of it): for passes that look at a few fields of every line and parse only the
        lines they keep. A type, or a type's namespace, is a range found by binary search."""
        prefix = (group_resource + "\t").encode() if group_resource is not None else b""
        if prefix and namespace is not None:
            prefix += (namespace + "\t").encode()
        with open(self.path, "rb") as f:
            if prefix:
                self._seek_first(f, prefix)
            else:
                f.seek(self._body)
            for line in f:
                if prefix and not line.startswith(prefix):
                    return
                yield line

    def entries(self, group_resource: str | None = None) -> Iterator[IndexEntry]:
        """Every entry in order, or those of one resource type."""
        for line in self.lines(group_resource):
            yield parse_line(line)

    def find(self, group_resource: str, namespace: str, name: str) -> IndexEntry | None:
        prefix = f"{group_resource}\t{namespace}\t{name}\t".encode()
        with open(self.path, "rb") as f:
            self._seek_first(f, prefix)
            line = f.readline()
        if line.startswith(prefix):
            return parse_line(line)
        return None


def parse_line(line: bytes) -> IndexEntry:
    return IndexEntry.parse(line.decode("utf-8", "surrogateescape"))


def unpack_index(gz_path: str, out_path: str) -> None:
    """The gzip index from a storage location, uncompressed next to `out_path`, then renamed."""
    tmp = f"{out_path}.{os.getpid()}.tmp"
    try:
        with gzip.open(gz_path, "rb") as src, open(tmp, "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
        TarballIndex(tmp)  # refuse a file that is not an index
        os.replace(tmp, out_path)
    except (OSError, EOFError, zlib.error) as error:
        raise IndexError_(f"the stored index cannot be read: {error}") from error
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- reading one item ----------------------------------------------------------------------------


def extract_entry(data: bytes, entry: IndexEntry) -> bytes:
    """The entry's body out of the compressed bytes read at `member_offset` (one or more
    members); checked against the index's digest."""
    need = entry.entry_offset + entry.size
    out = bytearray()
    rest = data
    while rest and len(out) < need:
        z = zlib.decompressobj(_GZIP_WBITS)
        try:
            out += z.decompress(rest, need - len(out))  # stops once the entry is out
        except zlib.error as error:
            raise IndexError_(f"the tarball does not match its index: {error}") from error
        rest = z.unused_data if z.eof else b""
    if len(out) < need:
        raise IndexError_("the tarball does not match its index: the entry is cut short")
    body = bytes(out[entry.entry_offset : need])
    if hashlib.sha256(body).hexdigest()[:DIGEST_CHARS] != entry.digest:
        raise IndexError_("the tarball does not match its index: the item's content hash differs")
    return body
