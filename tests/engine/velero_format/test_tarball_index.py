"""The tarball index: built by scanning a tarball once (ours: many gzip members; Velero's: one),
sorted, one entry per object; one item read back with one ranged read from local or S3 storage."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile

import pytest

from backups.engine.items import ItemKey
from backups.engine.storage import LocalStore, S3Store
from backups.engine.velero_format import tarball_index
from backups.engine.velero_format.archive import BlockArchiveWriter, assemble_tarball, read_archive_items
from backups.engine.velero_format.layout import parse_item_path
from backups.engine.velero_format.tarball_index import (
    IndexError_,
    TarballIndex,
    extract_entry,
    scan_tarball,
    write_index,
    write_index_of_file,
)
from tests.moto_s3 import start_s3_server, stop_s3_server


def obj(kind, ns, name, **extra):
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "v1", "kind": kind, "metadata": meta, **extra}


def our_tarball(tmp_path, blocks) -> str:
    """A tarball as the workers write it: one gzip member per block."""
    members = []
    for number, items in enumerate(blocks):
        path = str(tmp_path / f"block-{number}.tar.gz-member")
        with BlockArchiveWriter(path, fsync=False) as writer:
            for key, body, preferred in items:
                writer.add_item(key, body, preferred=preferred)
        members.append(path)
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball(members, out, fsync=False)
    return out


def sample_blocks():
    long_name = "x" * 150  # a pax header in the archive
    return [
        [
            (
                ItemKey("", "v1", "configmaps", "shop", "web-config"),
                obj("ConfigMap", "shop", "web-config", data={"a": "1"}),
                True,
            ),
            (
                ItemKey("", "v1", "secrets", "shop", "db"),
                obj("Secret", "shop", "db", data={"password": "c2VjcmV0"}),
                True,
            ),
        ],
        [
            (
                ItemKey("apps", "v1", "deployments", "shop", "web"),
                obj("Deployment", "shop", "web", spec={"replicas": 3}),
                True,
            ),
            (
                ItemKey("autoscaling", "v2beta2", "horizontalpodautoscalers", "shop", "h"),
                obj("HPA", "shop", "h"),
                False,
            ),
            (ItemKey("", "v1", "configmaps", "shop", long_name), obj("ConfigMap", "shop", long_name), True),
        ],
        [(ItemKey("", "v1", "namespaces", "", "shop"), obj("Namespace", "", "shop"), True)],
    ]


def objects_by_key(tarball: str) -> dict[tuple[str, str, str], dict]:
    out = {}
    for entry, body in read_archive_items(tarball):
        parsed = parse_item_path(entry)
        assert parsed is not None
        out[(parsed["group_resource"], parsed["namespace"], parsed["name"])] = body
    return out


def test_the_index_has_each_object_once_sorted_with_where_it_is(tmp_path):
    tarball = our_tarball(tmp_path, sample_blocks())
    header = write_index_of_file(tarball, str(tmp_path / "index.gz"))
    assert header["items"] == 6
    assert header["types"] == {
        "configmaps": 2, "deployments.apps": 1, "horizontalpodautoscalers.autoscaling": 1,
        "namespaces": 1, "secrets": 1,
    }  # fmt: skip
    assert header["tarball_size"] == os.path.getsize(tarball)
    with gzip.open(tmp_path / "index.gz", "rb") as src:
        (tmp_path / "index").write_bytes(src.read())
    index = TarballIndex(str(tmp_path / "index"))
    entries = list(index.entries())
    keys = [e.key for e in entries]
    assert keys == sorted(keys) and len(set(keys)) == 6
    assert set(keys) == set(objects_by_key(tarball))
    versions = {e.name: e.version for e in entries}
    assert versions["web"] == "v1" and versions["h"] == "v2beta2"  # preferred copy / only copy
    # every item comes back, byte for byte, from one ranged read
    store = LocalStore(str(tmp_path))
    expected = objects_by_key(tarball)
    for entry in entries:
        data = store.read_range("b.tar.gz", entry.member_offset, entry.read_length)
        assert len(data) == entry.read_length
        assert json.loads(extract_entry(data, entry)) == expected[entry.key]
    # our members are small: no read goes past its own block's member
    assert max(e.read_length for e in entries) < os.path.getsize(tarball) / 2


def test_find_and_ranges_by_resource(tmp_path):
    tarball = our_tarball(tmp_path, sample_blocks())
    write_index_of_file(tarball, str(tmp_path / "index.gz"))
    tarball_index.unpack_index(str(tmp_path / "index.gz"), str(tmp_path / "index"))
    index = TarballIndex(str(tmp_path / "index"))
    found = index.find("configmaps", "shop", "web-config")
    assert found is not None and found.name == "web-config"
    assert index.find("configmaps", "shop", "web") is None  # a prefix of a name is not the name
    assert index.find("configmaps", "other", "web-config") is None
    assert index.find("zzz", "", "a") is None and index.find("", "", "") is None
    assert [e.name for e in index.entries("configmaps")] == ["web-config", "x" * 150]
    assert [e.name for e in index.entries("deployments.apps")] == ["web"]
    assert list(index.entries("nothing")) == []
    assert index.find("namespaces", "", "shop") is not None


def test_velero_single_member_tarball_and_small_scan_chunks(tmp_path):
    """Velero's tarball is one gzip stream written by Go's tar + gzip writers: the same index,
    and a read stops near the item instead of reading the whole stream."""
    path = tmp_path / "velero.tar.gz"
    expected = {}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for number in range(400):
            body = json.dumps(
                obj("ConfigMap", "big", f"cm-{number:04d}", data={"n": os.urandom(600).hex()})
            ).encode()
            for name in (
                f"resources/configmaps/v1-preferredversion/namespaces/big/cm-{number:04d}.json",
                f"resources/configmaps/namespaces/big/cm-{number:04d}.json",
            ):
                info = tarfile.TarInfo(name)
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
            expected[f"cm-{number:04d}"] = body
    for chunk in (512, 4096, 1 << 16):
        with open(path, "rb") as f:
            raws = list(scan_tarball(f, chunk=chunk))
        assert len(raws) == 800
        assert {r.member_offset for r in raws} == {0}
    write_index_of_file(str(path), str(tmp_path / "index.gz"))
    tarball_index.unpack_index(str(tmp_path / "index.gz"), str(tmp_path / "index"))
    index = TarballIndex(str(tmp_path / "index"))
    store = LocalStore(str(tmp_path))
    first = index.find("configmaps", "big", "cm-0000")
    assert first is not None and first.read_length < path.stat().st_size / 4
    for entry in index.entries():
        data = store.read_range("velero.tar.gz", entry.member_offset, entry.read_length)
        assert extract_entry(data, entry) == expected[entry.name]


def test_long_indexes_are_merged_from_sorted_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(tarball_index, "SORT_RUN", 7)
    blocks = [
        [
            (
                ItemKey("", "v1", "configmaps", f"ns-{b}", f"cm-{(i * 7919) % 53}"),
                obj("ConfigMap", "x", "y", n=i),
                True,
            )
            for i in range(10)
        ]
        for b in range(5)
    ]
    tarball = our_tarball(tmp_path, blocks)
    header = write_index(open(tarball, "rb"), str(tmp_path / "index"), gz=False)
    assert header["items"] == 50
    keys = [e.key for e in TarballIndex(str(tmp_path / "index")).entries()]
    assert keys == sorted(keys) and len(set(keys)) == 50
    assert [f for f in os.listdir(tmp_path) if f.startswith("index-")] == []  # runs removed


def test_a_damaged_tarball_or_index_says_so(tmp_path):
    tarball = our_tarball(tmp_path, sample_blocks())
    data = open(tarball, "rb").read()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexError_, match="truncated|ends inside"):
        write_index_of_file(str(tmp_path / "cut.tar.gz"), str(tmp_path / "cut.index"))
    assert not (tmp_path / "cut.index").exists()
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball at all")
    with pytest.raises(IndexError_, match="not a gzip member"):
        write_index_of_file(str(tmp_path / "junk.tar.gz"), str(tmp_path / "junk.index"))
    (tmp_path / "bogus").write_text("hello\n")
    with pytest.raises(IndexError_, match="not a tarball index"):
        TarballIndex(str(tmp_path / "bogus"))
    # an index that does not match the tarball is caught by the content hash
    write_index_of_file(tarball, str(tmp_path / "index.gz"))
    tarball_index.unpack_index(str(tmp_path / "index.gz"), str(tmp_path / "index"))
    entry = TarballIndex(str(tmp_path / "index")).find("configmaps", "shop", "web-config")
    assert entry is not None
    wrong = tarball_index.IndexEntry(*[getattr(entry, f) for f in entry.__slots__][:-1], "0" * 16)
    raw = LocalStore(str(tmp_path)).read_range("b.tar.gz", entry.member_offset, entry.read_length)
    with pytest.raises(IndexError_, match="content hash"):
        extract_entry(raw, wrong)


def test_local_read_range(tmp_path):
    store = LocalStore(str(tmp_path))
    store.put_bytes("backups/b/f", bytes(range(256)))
    assert store.read_range("backups/b/f", 10, 5) == bytes(range(10, 15))
    assert store.read_range("backups/b/f", 250, 100) == bytes(range(250, 256))
    assert store.read_range("backups/b/f", 300, 10) == b""
    with pytest.raises(ValueError, match="invalid range"):
        store.read_range("backups/b/f", -1, 5)
    with pytest.raises(ValueError):
        store.read_range("../x", 0, 5)
    from backups.engine.storage import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        store.read_range("backups/b/nope", 0, 5)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log", bucket="veloweb-index")
    try:
        yield server
    finally:
        stop_s3_server(proc)


def test_s3_read_range_is_one_range_get_and_reads_items(s3, tmp_path):
    store = S3Store(
        s3.bucket, prefix="idx", endpoint_url=s3.url, access_key_id=s3.access_key_id,
        secret_access_key=s3.secret_access_key,
    )  # fmt: skip
    store.put_bytes("backups/b/f", bytes(range(256)))
    assert store.read_range("backups/b/f", 10, 5) == bytes(range(10, 15))
    assert store.read_range("backups/b/f", 250, 100) == bytes(range(250, 256))
    assert store.read_range("backups/b/f", 300, 10) == b""
    from backups.engine.storage import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        store.read_range("backups/b/nope", 0, 5)

    tarball = our_tarball(tmp_path, sample_blocks())
    store.put_file("backups/b/b.tar.gz", tarball)
    write_index_of_file(tarball, str(tmp_path / "index.gz"))
    tarball_index.unpack_index(str(tmp_path / "index.gz"), str(tmp_path / "index"))
    expected = objects_by_key(tarball)
    requests = []
    store._client.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: requests.append(request)
    )
    for entry in TarballIndex(str(tmp_path / "index")).entries():
        data = store.read_range("backups/b/b.tar.gz", entry.member_offset, entry.read_length)
        assert json.loads(extract_entry(data, entry)) == expected[entry.key]
    assert len(requests) == 6
    assert all(r.headers["Range"].startswith(b"bytes=") for r in requests)


def test_finalize_builds_the_index_from_the_members_entries_files_as_a_scan_would(tmp_path):
    """The writer records where each object is as it writes it: the index comes without reading
    the tarball again, and says what a scan of the tarball says."""
    our_tarball(tmp_path, sample_blocks())  # assembled without member_offsets
    members = sorted(str(p) for p in tmp_path.glob("block-*.tar.gz-member"))
    assert all(os.path.exists(m + ".entries") for m in members)
    offsets: list[int] = []
    assemble_tarball(members, str(tmp_path / "again.tar.gz"), fsync=False, member_offsets=offsets)
    # a member rewritten after its entries file (a retried batch that died in between): scanned
    with BlockArchiveWriter(members[1], fsync=False) as writer:
        writer.add_item(
            ItemKey("", "v1", "configmaps", "shop", "retried"), obj("ConfigMap", "shop", "retried")
        )
    with open(members[1] + ".entries", "rb") as f:
        fresh = f.read()
    (tmp_path / "stale.entries").write_bytes(fresh)
    with open(members[1] + ".entries", "wb") as f:
        f.write(b"1:00\n" + fresh.split(b"\n", 1)[1])
    offsets = []
    again = str(tmp_path / "again.tar.gz")
    size = assemble_tarball(members, again, fsync=False, member_offsets=offsets)
    header = tarball_index.write_index_of_members(members, offsets, str(tmp_path / "m.gz"), tarball_size=size)
    write_index_of_file(again, str(tmp_path / "s.gz"))
    tarball_index.unpack_index(str(tmp_path / "m.gz"), str(tmp_path / "m"))
    tarball_index.unpack_index(str(tmp_path / "s.gz"), str(tmp_path / "s"))
    from_members = list(TarballIndex(str(tmp_path / "m")).entries())
    scanned = list(TarballIndex(str(tmp_path / "s")).entries())
    same = lambda e: (e.key, e.version, e.member_offset, e.entry_offset, e.size, e.digest)  # noqa: E731
    assert [same(e) for e in from_members] == [same(e) for e in scanned]
    assert header["items"] == 4 and "retried" in {e.name for e in from_members}
    store = LocalStore(str(tmp_path))
    expected = objects_by_key(again)
    for entry in from_members:  # the whole member is read: one ranged read still
        data = store.read_range("again.tar.gz", entry.member_offset, entry.read_length)
        assert json.loads(extract_entry(data, entry)) == expected[entry.key]


def test_binary_search_finds_every_key_and_no_other(tmp_path):
    """Names that are prefixes of others, types that are prefixes of others, cluster scope: every
    key is found, every near miss is not, and a type's range is exactly its lines."""
    import random

    rng = random.Random(5)
    types = ["configmaps", "configmaps.x", "pods", "podsx", "secrets"]
    keys = sorted(
        {
            (
                rng.choice(types),
                rng.choice(["", "a", "ab", "b"]),
                rng.choice(["n", "n-1", "n-10", "m"]) + str(i % 7),
            )
            for i in range(400)
        }
    )
    lines = [tarball_index.IndexEntry(*k, "v1", 0, 1, 0, 1, "0" * 16).line() for k in keys]
    path = tmp_path / "index"
    path.write_text(
        json.dumps({"format": tarball_index.FORMAT, "items": len(lines)}) + "\n" + "\n".join(lines) + "\n"
    )
    index = TarballIndex(str(path))
    for key in keys:
        assert index.find(*key).key == key
    present = set(keys)
    for gr in types + ["config", "zzz", ""]:
        for ns in ["", "a", "ab", "b", "c"]:
            for name in ["n", "n-1", "n-10", "m", "n0", "m6", "x"]:
                found = index.find(gr, ns, name)
                assert (found is not None) == ((gr, ns, name) in present)
        assert [e.key for e in index.entries(gr)] == [k for k in keys if k[0] == gr]
        for ns in ["", "a", "ab"]:
            assert [line.split(b"\t")[2].decode() for line in index.lines(gr, ns)] == [
                k[2] for k in keys if k[:2] == (gr, ns)
            ]
