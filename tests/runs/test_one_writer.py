"""One writer for Velero's files: the same backup written by the sequential runner
(`engine.sequential_backup`) and by the RQ workers (`runs.finalize`) gives the same files, every
one compared; only the times differ (and the log lines' times)."""

import gzip
import json
import re
from pathlib import Path

import pytest

from backups.engine.planning.spec import BackupSpec
from backups.engine.sequential_backup import run_local_backup
from backups.engine.velero_format.archive import read_archive_items
from backups.engine.velero_format.log_text import parse_line
from backups.kube import connect

pytestmark = pytest.mark.usefixtures("rq_workers")

TIMES = ("creationTimestamp", "startTimestamp", "completionTimestamp", "expiration")


def gzip_json(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def log_lines(path: Path) -> list[dict]:
    """The log without the times (when each line was written, how long each hook took) and
    without logSource (the two runners log their last line from their own code)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [parse_line(line) for line in f]
    for line in lines:
        del line["time"], line["logSource"]
        line["msg"] = re.sub(r"\b\d+\.\d+s\b", "<seconds>", line["msg"])
    return lines


def index_lines(path: Path) -> list[tuple[str, ...]]:
    """The index without offsets: (resource, namespace, name, version, size, digest)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)
        return [(p[0], p[1], p[2], p[3], p[7], p[8]) for p in (line.rstrip("\n").split("\t") for line in f)]


def without_times(backup: dict) -> dict:
    for part in (backup["metadata"], backup["status"]):
        for field in TIMES:
            part.pop(field, None)
    return backup


def test_the_sequential_runner_and_the_workers_write_the_same_files(manage, registered, cluster, stack_env):
    result = manage(
        "backup", "create", "same-1", "--cluster", registered, "--include-namespaces", "shop",
        "--snapshot-volumes", "false", "--ttl", "720h", "--workers", "4", "--wait", "--timeout", "120",
        check=False,
    )  # fmt: skip
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    by_workers = Path(stack_env["VELOWEB_DATA_DIR"]) / "storage" / "backups" / "same-1"

    out = Path(stack_env["VELOWEB_DATA_DIR"]) / "sequential"
    source = connect(cluster.kubeconfig)
    try:
        run_local_backup(source, BackupSpec(included_namespaces=["shop"]), "same-1", str(out))
    finally:
        source.close()
    sequential = out / "backups" / "same-1"

    names = sorted(p.name for p in by_workers.iterdir())
    assert names == sorted(p.name for p in sequential.iterdir())
    assert len(names) == 7
    for name in names:
        mine, theirs = by_workers / name, sequential / name
        if name.endswith(".tar.gz"):
            objects = list(read_archive_items(str(mine)))
            assert len(objects) > 20
            assert objects == list(read_archive_items(str(theirs))), name
        elif name.endswith("-veloweb-index.tsv.gz"):
            # offsets differ with the tar headers' times; what is where and its content hash do not
            assert index_lines(mine) == index_lines(theirs), name
            assert len(index_lines(mine)) > 20
        elif name.endswith("-logs.gz"):
            assert log_lines(mine) == log_lines(theirs), name
        elif name.endswith(".json.gz") or name.endswith("-results.gz"):
            assert gzip_json(mine) == gzip_json(theirs), name
        else:
            assert name == "velero-backup.json"
            mine, theirs = json.loads(mine.read_text()), json.loads(theirs.read_text())
            assert without_times(mine) == without_times(theirs)
