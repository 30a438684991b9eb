"""The backup tarball as Velero writes it (spec 2 (d)), built from per-block gzip members."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from backups.engine.items import ItemKey
from backups.engine.velero_format import layout
from backups.engine.velero_format.archive import (
    BlockArchiveWriter,
    assemble_tarball,
    block_member_path,
    closed_members,
    member_is_complete,
    read_archive_items,
    remove_partial_members,
)
from tests.engine.objects import configmap, namespace, pod, pv

POD = ItemKey("", "v1", "pods", "shop", "web-1")
DEPLOY = ItemKey("apps", "v1", "deployments", "shop", "web")
PV = ItemKey("", "v1", "persistentvolumes", "", "pv-1")
CRB = ItemKey("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "", "admin")
NS = ItemKey("", "v1", "namespaces", "", "shop")
HPA_OLD = ItemKey("autoscaling", "v2beta2", "horizontalpodautoscalers", "shop", "h")


def deployment_obj(ns, name):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}}


def names_of(path):
    with tarfile.open(path, "r:gz") as tar:
        return tar.getnames()


def write_block(path, items):
    with BlockArchiveWriter(path, fsync=False) as w:
        for key, obj in items:
            w.add_item(key, obj)
    return w.entries


# --- members and assembly ----------------------------------------------------------------------------


@pytest.fixture
def two_blocks(tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    block0 = [(NS, namespace("shop")), (POD, pod("shop", "web-1")), (DEPLOY, deployment_obj("shop", "web"))]
    block1 = [(PV, pv("pv-1")), (ItemKey("", "v1", "configmaps", "shop", "cfg"), configmap("shop", "cfg"))]
    e0 = write_block(block_member_path(str(staging), 0), block0)
    e1 = write_block(block_member_path(str(staging), 1), block1)
    out = str(tmp_path / "b1.tar.gz")
    size = assemble_tarball(closed_members(str(staging)), out)
    return {"staging": staging, "out": out, "size": size, "entries": e0 + e1, "objects": block0 + block1}


def test_assembled_tarball_reads_back_with_random_access_tarfile(two_blocks):
    names = names_of(two_blocks["out"])
    assert names == ["metadata/version", *two_blocks["entries"]]
    assert len(names) == 1 + 2 * 5
    assert two_blocks["size"] == os.path.getsize(two_blocks["out"])
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        assert tar.extractfile("metadata/version").read() == b"1.1.0\n"
        body = tar.extractfile("resources/pods/namespaces/shop/web-1.json").read()
    assert json.loads(body) == pod("shop", "web-1")
    assert b" " not in body.replace(b"busybox", b"")  # compact JSON: no separators with spaces


def test_assembled_tarball_reads_back_streaming_through_gzip(two_blocks):
    seen = []
    with gzip.open(two_blocks["out"], "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        for member in tar:
            seen.append(member.name)
            tar.extractfile(member).read()
    assert seen[0] == "metadata/version"
    assert seen[1:] == two_blocks["entries"]


def test_gnu_tar_lists_the_entries(two_blocks):
    if shutil.which("tar") is None:
        pytest.skip("no tar binary")
    result = subprocess.run(["tar", "-tzf", two_blocks["out"]], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["metadata/version", *two_blocks["entries"]]
    assert result.stderr == ""  # no "lone zero block" or trailing-garbage warnings
    subprocess.run(["gzip", "-t", two_blocks["out"]], check=True)  # every member's CRC and length


def test_entries_are_regular_files_mode_755_with_write_time(two_blocks):
    before = time.time() - 120
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        members = tar.getmembers()
    assert members
    for m in members:
        assert m.isreg(), m.name
        assert m.mode == 0o755, m.name
        assert before <= m.mtime <= time.time() + 1
        assert not m.name.startswith(("/", "./"))
        assert (m.uid, m.gid, m.uname, m.gname) == (0, 0, "", "")


def test_metadata_version_is_first(two_blocks):
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        first = tar.next()
        assert first.name == "metadata/version"
        assert tar.extractfile(first).read() == b"1.1.0\n"


def test_both_preferred_copies_are_identical(two_blocks):
    with tarfile.open(two_blocks["out"], "r:gz") as tar:
        for key, _obj in two_blocks["objects"]:
            versioned, plain = layout.item_entry_names(key, True)
            assert tar.extractfile(versioned).read() == tar.extractfile(plain).read()


def test_read_archive_items_streams_objects_and_can_skip_preferred_copies(two_blocks):
    items = list(read_archive_items(two_blocks["out"]))
    assert [n for n, _ in items] == two_blocks["entries"]
    once = dict(read_archive_items(two_blocks["out"], each_object_once=True))
    expected = {layout.item_path(k): o for k, o in two_blocks["objects"]}
    assert once == expected


def test_non_preferred_version_is_written_once_under_its_version(tmp_path):
    member = str(tmp_path / "m")
    entries = write_block(member, [])
    assert entries == []
    with BlockArchiveWriter(member, fsync=False) as w:
        w.add_item(HPA_OLD, {"kind": "HorizontalPodAutoscaler"}, preferred=False)
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([member], out)
    assert names_of(out) == [
        "metadata/version",
        "resources/horizontalpodautoscalers.autoscaling/v2beta2/namespaces/shop/h.json",
    ]


def test_a_rerun_block_replaces_its_member_so_nothing_is_written_twice(tmp_path):
    staging = str(tmp_path)
    path0 = block_member_path(staging, 0)
    write_block(
        path0,
        [(POD, pod("shop", "web-1")), (ItemKey("", "v1", "pods", "shop", "web-2"), pod("shop", "web-2"))],
    )
    write_block(block_member_path(staging, 1), [(PV, pv("pv-1"))])
    # block 0 is retried (its worker died after closing, or the job is re-run) with a changed object
    changed = pod("shop", "web-1", labels={"retry": "yes"})
    write_block(path0, [(POD, changed), (ItemKey("", "v1", "pods", "shop", "web-2"), pod("shop", "web-2"))])
    members = closed_members(staging)
    assert members == [path0, block_member_path(staging, 1)]
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball(members, out)
    names = names_of(out)
    assert len(names) == len(set(names)) == 1 + 2 * 3
    assert dict(read_archive_items(out))["resources/pods/namespaces/shop/web-1.json"] == changed


def test_a_killed_writer_leaves_only_a_partial_file_which_is_not_picked_up(tmp_path):
    staging = str(tmp_path)
    write_block(block_member_path(staging, 0), [(PV, pv("pv-1"))])
    # simulate a worker killed mid-block: the writer is never closed and its process gone
    w = BlockArchiveWriter(block_member_path(staging, 1), fsync=False)
    for i in range(200):
        w.add_item(ItemKey("", "v1", "configmaps", "shop", f"cm-{i}"), configmap("shop", f"cm-{i}"))
    w._file.flush()
    partial = w.temp_path
    assert os.path.getsize(partial) > 0 and partial.endswith(".partial")
    assert not os.path.exists(block_member_path(staging, 1))
    assert closed_members(staging) == [block_member_path(staging, 0)]
    assert not member_is_complete(partial)  # truncated gzip member is detectable
    assert member_is_complete(block_member_path(staging, 0))
    with pytest.raises(ValueError):
        assemble_tarball([block_member_path(staging, 0), partial], str(tmp_path / "x.tar.gz"))
    assert not os.path.exists(tmp_path / "x.tar.gz")
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball(closed_members(staging), out)
    assert names_of(out) == ["metadata/version", *layout.item_entry_names(PV)]
    assert remove_partial_members(staging) == [partial]
    w._file.close()


def test_an_exception_inside_the_writer_publishes_nothing(tmp_path):
    path = block_member_path(str(tmp_path), 0)
    with pytest.raises(RuntimeError), BlockArchiveWriter(path, fsync=False) as w:
        w.add_item(PV, pv("pv-1"))
        raise RuntimeError("worker failed")
    assert os.listdir(tmp_path) == []


def test_assembling_zero_blocks_gives_a_valid_versioned_tarball(tmp_path):
    out = str(tmp_path / "empty.tar.gz")
    assemble_tarball([], out)
    assert names_of(out) == ["metadata/version"]
    result = subprocess.run(["tar", "-tzf", out], capture_output=True, text=True, check=True)
    assert result.stdout == "metadata/version\n"
    assert list(read_archive_items(out)) == []
    with gzip.open(out) as gz:
        raw = gz.read()
    # one 512-byte header + one padded body block, then the end-of-archive marker: two zero blocks
    assert len(raw) == 512 + 512 + 1024
    assert raw[-1024:] == b"\0" * 1024 and raw[512:518] == b"1.1.0\n"


def test_an_empty_block_member_is_harmless(tmp_path):
    empty = write_block(str(tmp_path / "e"), [])
    assert empty == []
    write_block(str(tmp_path / "f"), [(PV, pv("pv-1"))])
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([str(tmp_path / "e"), str(tmp_path / "f")], out)
    assert names_of(out) == ["metadata/version", *layout.item_entry_names(PV)]
    with gzip.open(out) as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
        assert [m.name for m in tar] == ["metadata/version", *layout.item_entry_names(PV)]


def test_assembly_refuses_a_member_given_twice_or_not_gzip(tmp_path):
    member = str(tmp_path / "m")
    write_block(member, [(PV, pv("pv-1"))])
    with pytest.raises(ValueError, match="twice"):
        assemble_tarball([member, member], str(tmp_path / "b.tar.gz"))
    junk = tmp_path / "junk"
    junk.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="gzip"):
        assemble_tarball([member, str(junk)], str(tmp_path / "b.tar.gz"))
    assert sorted(os.listdir(tmp_path)) == ["junk", "m", "m.entries"]  # no tarball, no temp left behind


def test_assembly_replaces_an_existing_tarball_atomically(tmp_path):
    member = str(tmp_path / "m")
    write_block(member, [(PV, pv("pv-1"))])
    out = tmp_path / "b.tar.gz"
    out.write_bytes(b"old")
    assemble_tarball([member], str(out), buffer_size=7)  # tiny buffer: copy is chunked
    assert names_of(str(out)) == ["metadata/version", *layout.item_entry_names(PV)]


def test_long_and_non_ascii_names_survive(tmp_path):
    long_name = "x" * 200
    key = ItemKey("example.com", "v1", "widgets", "shop", long_name)
    key2 = ItemKey("", "v1", "configmaps", "shop", "caf\u00e9")
    member = str(tmp_path / "m")
    write_block(member, [(key, {"a": 1}), (key2, {"b": "\u00e9"})])
    out = str(tmp_path / "b.tar.gz")
    assemble_tarball([member], out)
    expected = ["metadata/version", *layout.item_entry_names(key), *layout.item_entry_names(key2)]
    assert names_of(out) == expected
    listed = (
        subprocess.run(["tar", "-tzf", out], capture_output=True, check=True).stdout.decode().splitlines()
    )
    assert listed == expected
    assert dict(read_archive_items(out))[layout.item_path(key2)] == {"b": "\u00e9"}


def test_throughput_of_ten_thousand_small_objects(tmp_path, capsys):
    objs = [
        (ItemKey("", "v1", "configmaps", f"ns-{i % 50}", f"cm-{i}"), configmap(f"ns-{i % 50}", f"cm-{i}"))
        for i in range(10_000)
    ]
    start = time.perf_counter()
    with BlockArchiveWriter(str(tmp_path / "m"), fsync=False) as w:
        for key, obj in objs:
            w.add_item(key, obj)
    out = str(tmp_path / "b.tar.gz")
    size = assemble_tarball([str(tmp_path / "m")], out, fsync=False)
    elapsed = time.perf_counter() - start
    assert sum(1 for _ in read_archive_items(out)) == 20_000
    with capsys.disabled():
        print(
            f"\n[archive] 10k objects -> 20k entries: {w.raw_bytes / 1e6:.1f} MB tar, "
            f"{size / 1e6:.2f} MB gz in {elapsed:.2f}s = {w.raw_bytes / 1e6 / elapsed:.1f} MB/s tar, "
            f"{10_000 / elapsed:.0f} objects/s"
        )


@pytest.mark.parametrize(
    "name, size, mtime",
    [
        ("metadata/version", 6, 1_700_000_000),
        ("resources/pods/namespaces/shop/web-1.json", 0, 0),
        ("r/" + "x" * 98, 8**11 - 1, 8**11 - 1),
        ("r/" + "x" * 99, 123, 1),  # > 100 bytes: pax path
        ("resources/configmaps/namespaces/shop/caf\u00e9.json", 5, 5),  # non-ASCII: pax path
    ],
)
def test_fast_header_matches_tarfile(name, size, mtime):
    from backups.engine.velero_format.archive import _tar_header

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime, info.type = size, 0o755, mtime, tarfile.REGTYPE
    assert _tar_header(name, size, mtime) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
