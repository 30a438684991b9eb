"""Inside a backup at scale: the tarball index of a generated 300,000-object backup, one item read
with one ranged read (local and S3), and the diff of two such backups.

    python bench/backup_contents.py [--objects 300000] [--change 0.01] [--reads 200]

Writes two backups of a generated cluster with the writer both runners use (`BackupFilesWriter`,
members of 1,000 items as the workers' batches), the second after changing, removing and adding
`--change` of the objects each; prints the index build time (what finalize adds), opening one
item (index lookup + one ranged read + decompress + hash check, median and p95) from local
storage and from S3 (moto's server, as in the tests: a local endpoint, so network time is ~0),
the first open of an index from S3, building an index by streaming a tarball from S3 (an
imported backup), a page of items with a search, and the full diff (merge of both indexes) with
the field-level diff of one page of changed items. Generating the cluster is not timed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backups.engine.item_diff import CHANGED, diff_index_lines, field_changes  # noqa: E402
from backups.engine.items import ItemKey  # noqa: E402
from backups.engine.manifests.builtin_discovery import builtin_resource_table  # noqa: E402
from backups.engine.storage import LocalStore, S3Store  # noqa: E402
from backups.engine.velero_format.archive import BlockArchiveWriter, assemble_tarball  # noqa: E402
from backups.engine.velero_format.backup_files import BackupFilesWriter  # noqa: E402
from backups.engine.velero_format.layout import backup_dir, backup_file_key, tarball_key  # noqa: E402
from backups.engine.velero_format.tarball_index import (  # noqa: E402
    TarballIndex,
    extract_entry,
    unpack_index,
    write_index,
    write_index_of_file,
    write_index_of_members,
)
from emulator.generate import generate_cluster  # noqa: E402

BATCH = 1000


def key_of(obj: dict, table) -> ItemKey:
    group, _, version = obj["apiVersion"].rpartition("/")
    info = table.by_kind(obj["apiVersion"], obj["kind"])
    resource_name = info.resource if info else obj["kind"].lower() + "s"
    meta = obj["metadata"]
    return ItemKey(group, version, resource_name, meta.get("namespace", ""), meta["name"])


def write_backup(root: str, name: str, objects: list[dict], table) -> tuple[float, float, int, float]:
    """Velero's files of `name`; (seconds writing members, seconds in write_contents, tarball
    size, seconds of the index alone, from the members' entries files)."""
    folder = os.path.join(root, backup_dir(name))
    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as staging:
        started = time.perf_counter()
        members, written = [], []
        for start in range(0, len(objects), BATCH):
            path = os.path.join(staging, f"block-{start // BATCH:07d}.tar.gz-member")
            with BlockArchiveWriter(path, fsync=False) as writer:
                for obj in objects[start : start + BATCH]:
                    key = key_of(obj, table)
                    writer.add_item(key, obj)
                    written.append((key, obj["kind"]))
            members.append(path)
        members_s = time.perf_counter() - started
        started = time.perf_counter()
        size = BackupFilesWriter(folder, name).write_contents(members, written, [], [])
        contents_s = time.perf_counter() - started
        offsets: list[int] = []
        assemble_tarball(members, os.path.join(staging, "again.tar.gz"), fsync=False, member_offsets=offsets)
        started = time.perf_counter()
        write_index_of_members(members, offsets, os.path.join(staging, "index.gz"), tarball_size=size)
        index_s = time.perf_counter() - started
    return members_s, contents_s, size, index_s


def changed_copy(objects: list[dict], fraction: float, rng: random.Random) -> tuple[list[dict], int]:
    """The objects with `fraction` of them changed, `fraction` removed and as many added."""
    out, changes = [], 0
    for obj in objects:
        roll = rng.random()
        if roll < fraction:
            continue  # removed
        if roll < 2 * fraction:
            obj = copy.deepcopy(obj)
            obj["metadata"].setdefault("labels", {})["bench/changed"] = "yes"
            changes += 1
        out.append(obj)
    for n in range(int(len(objects) * fraction)):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"bench-added-{n}", "namespace": "bench-added"},
                "data": {"n": str(n)},
            }
        )
    return out, changes


def read_one(store, key: str, index: TarballIndex, wanted: tuple[str, str, str]) -> float:
    started = time.perf_counter()
    entry = index.find(*wanted)
    assert entry is not None, wanted
    data = store.read_range(key, entry.member_offset, entry.read_length)
    json.loads(extract_entry(data, entry))
    return time.perf_counter() - started


def timings(label: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        f"  {label}: median {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
        f"({len(samples)} reads)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=300_000)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    rng = random.Random(1)
    table = builtin_resource_table()

    objects = generate_cluster(args.objects)
    second, changed = changed_copy(objects, args.change, rng)
    root = tempfile.mkdtemp(prefix="bench-contents-")
    print(
        f"{len(objects):,} objects; the second backup: {changed:,} changed, "
        f"~{int(len(objects) * args.change):,} removed and added"
    )

    for name, objs in (("bench-1", objects), ("bench-2", second)):
        members_s, contents_s, size, index_s = write_backup(root, name, objs, table)
        print(
            f"{name}: members {members_s:.1f} s, write_contents (tarball + index + lists) "
            f"{contents_s:.1f} s, of which the index (what finalize adds) {index_s:.1f} s; "
            f"tarball {size / 2**20:.1f} MiB"
        )
    del objects, second

    tarball = os.path.join(root, tarball_key("bench-1"))
    started = time.perf_counter()
    header = write_index_of_file(tarball, os.path.join(root, "again.gz"))
    print(
        f"index built by scanning the tarball (an imported backup, local): "
        f"{time.perf_counter() - started:.1f} s for {header['items']:,} items"
    )
    print(
        f"stored index: "
        f"{os.path.getsize(os.path.join(root, backup_file_key('index', 'bench-1'))) / 2**20:.1f} MiB gzip"
    )

    local = LocalStore(root)
    indexes = {}
    for name in ("bench-1", "bench-2"):
        started = time.perf_counter()
        path = os.path.join(root, f"{name}.tsv")
        unpack_index(os.path.join(root, backup_file_key("index", name)), path)
        indexes[name] = TarballIndex(path)
        print(
            f"{name}: first open of a local index (gunzip to the cache) "
            f"{time.perf_counter() - started:.2f} s, {os.path.getsize(path) / 2**20:.1f} MiB"
        )
    index = indexes["bench-1"]
    keys = [e.key for e in index.entries()]
    sample = rng.sample(keys, min(args.reads, len(keys)))
    print("opening one item (index lookup + one ranged read + gunzip to the entry + hash check + JSON):")
    timings("local", [read_one(local, tarball_key("bench-1"), index, k) for k in sample])

    started = time.perf_counter()
    needle, found = b"api-7", 0
    for line in index.lines():  # as the items page filters: raw fields, parsed when kept
        _, ns, name, _ = line.split(b"\t", 3)
        if needle in name.lower() or needle in ns.lower():
            found += 1
    print(
        f"a page of items searched by name ({found:,} match '{needle}' of {len(keys):,}): "
        f"{time.perf_counter() - started:.2f} s (one pass)"
    )
    started = time.perf_counter()
    count = sum(1 for _ in index.lines("configmaps"))
    print(
        f"a page of one type ({count:,} configmaps, a range of the sorted index): "
        f"{time.perf_counter() - started:.2f} s"
    )

    started = time.perf_counter()
    counts = {"added": 0, "removed": 0, "changed": 0}
    first_changed = []
    for change in diff_index_lines(indexes["bench-1"].lines(), indexes["bench-2"].lines()):
        counts[change.status] += 1
        if change.status == CHANGED and len(first_changed) < 25:
            first_changed.append(change)
    diff_s = time.perf_counter() - started
    print(f"diff of the two backups (merge of both indexes): {diff_s:.2f} s; {counts}")
    started = time.perf_counter()
    fields = 0
    for change in first_changed:
        assert change.old and change.new
        old = json.loads(
            extract_entry(
                local.read_range(tarball_key("bench-1"), change.old.member_offset, change.old.read_length),
                change.old,
            )
        )
        new = json.loads(
            extract_entry(
                local.read_range(tarball_key("bench-2"), change.new.member_offset, change.new.read_length),
                change.new,
            )
        )
        fields += len(field_changes(old, new))
    print(
        f"field-level diff of a page of {len(first_changed)} changed items: "
        f"{time.perf_counter() - started:.2f} s ({fields} fields)"
    )

    if not args.no_s3:
        from tests.moto_s3 import start_s3_server, stop_s3_server

        proc, server = start_s3_server(os.path.join(root, "moto.log"), bucket="bench-contents")
        try:
            s3 = S3Store(
                server.bucket, endpoint_url=server.url, access_key_id=server.access_key_id,
                secret_access_key=server.secret_access_key,
            )  # fmt: skip
            started = time.perf_counter()
            for kind in ("tarball", "index"):
                key = backup_file_key(kind, "bench-1")
                s3.put_file(key, os.path.join(root, key))
            print(
                f"S3 (moto server on localhost): upload of the tarball and the index "
                f"{time.perf_counter() - started:.1f} s"
            )
            started = time.perf_counter()
            fetched = os.path.join(root, "fetched.gz")
            with s3.open(backup_file_key("index", "bench-1")) as src, open(fetched, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            unpack_index(fetched, os.path.join(root, "fetched.tsv"))
            print(
                f"  first open from S3 (download + gunzip the index): {time.perf_counter() - started:.2f} s"
            )
            timings(
                "one item from S3 (one Range GET)",
                [read_one(s3, tarball_key("bench-1"), index, k) for k in sample[:100]],
            )
            started = time.perf_counter()
            with s3.open(tarball_key("bench-1")) as stream:
                write_index(
                    stream, os.path.join(root, "imported.gz"), tarball_size=s3.size(tarball_key("bench-1"))
                )
            print(
                f"  an imported backup's first open: index built by streaming its tarball from S3 "
                f"{time.perf_counter() - started:.1f} s"
            )
        finally:
            stop_s3_server(proc)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process: {peak:.0f} MiB (the generated cluster included)")


if __name__ == "__main__":
    main()
