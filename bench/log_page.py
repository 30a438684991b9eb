"""The full log page of a backup with millions of lines: how long one page takes to serve.

Makes a SQLite database in a temporary folder (or uses DATABASE_URL's server, in a database of
its own name is up to you), records LINES log lines for one backup (a tenth warnings and
errors, names spread over 40 namespaces), then times GET /backups/<id>/log/ through Django's
test client (the view, the queries and the template, no network): the first page, a middle
one, the last one, errors only, and a search, each REPEAT times; prints the median and the
worst in milliseconds.

    .venv/bin/python bench/log_page.py [--lines 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="log-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update(DJANGO_SETTINGS_MODULE="veloweb.settings", VELOWEB_DATA_DIR=tmp)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from backups.models import Backup, BackupLogEntry, Cluster
    from backups.runs.batch_sql import insert_rows

    call_command("migrate", verbosity=0)
    from django.contrib.auth.models import User

    user = User.objects.create_superuser("bench", password="bench-Pass-1")
    cluster = Cluster.objects.create(name="bench", in_cluster=True)
    backup = Backup.objects.create(name="bench-1", cluster=cluster, phase="Completed")
    started = time.perf_counter()
    columns = (
        "backup_id",
        "level",
        "message",
        "resource",
        "namespace",
        "name",
        "time",
        "block_index",
        "source",
    )
    levels = ["info"] * 18 + ["warning", "error"]
    chunk = 20_000
    for start in range(0, args.lines, chunk):
        rows = [
            (
                backup.pk,
                levels[i % 20],
                f"backed up item {i} of the cluster",
                "pods",
                f"ns-{i % 40}",
                f"pod-{i}",
                1796464800.0 + i / 100,
                i // 3,
                "backups/engine/running/blocks.py:10",
            )
            for i in range(start, min(args.lines, start + chunk))
        ]
        with transaction.atomic():
            insert_rows(BackupLogEntry, columns, rows)
    print(f"{args.lines:,} lines recorded in {time.perf_counter() - started:.1f}s ({connection.vendor})")

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    pages = args.lines // 200 + 1
    cases = {
        "first page": "",
        "middle page": f"?page={pages // 2}",
        "last page": "?page=last",
        "errors, page 1": "?level=error",
        "errors, last page": "?level=error&page=last",
        "search (rare: pod-777777)": "?q=pod-777777",
        "search (common: ns-7), last page": "?q=ns-7&page=last",
    }
    print(f"{'case':36} {'median ms':>10} {'worst ms':>10}")
    for name, query in cases.items():
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = client.get(f"/backups/{backup.pk}/log/{query}")
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        print(f"{name:36} {statistics.median(times):10.0f} {max(times):10.0f}")


if __name__ == "__main__":
    main()
