"""The backups history with many backups: how long a page takes, sorted by each kind of column and
with the namespace filter (which the engine's matching decides, one pass over the filtered rows),
and what one live update of a history page costs (the WebSocket renderer, rows only).

Makes a SQLite database in a temporary folder (or uses DATABASE_URL's server), records BACKUPS
backups (namespace lists: a name, a glob, all, or all but one), then times GET / through Django's
test client (the view, the queries and the template, no network) REPEAT times per case; prints
the median and the worst in milliseconds.

    .venv/bin/python bench/history_page.py [--backups 100000] [--repeat 5]
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
    parser.add_argument("--backups", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="history-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.update(DJANGO_SETTINGS_MODULE="veloweb.settings", VELOWEB_DATA_DIR=tmp)
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.http import QueryDict
    from django.test import Client

    from backups.live.render import history_fragments
    from backups.models import Backup, Cluster

    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password="bench-Pass-1")
    cluster = Cluster.objects.create(name="bench", in_cluster=True)
    phases = ["Completed"] * 8 + ["PartiallyFailed", "Failed"]
    shapes = [(["payments"], []), (["pay*"], []), ([], []), ([], ["payments"]), (["shop-*"], [])]
    started = time.perf_counter()
    chunk = 5_000
    for begin in range(0, args.backups, chunk):
        with transaction.atomic():
            Backup.objects.bulk_create(
                Backup(
                    name=f"bench-{i:07d}",
                    cluster=cluster,
                    phase=phases[i % 10],
                    included_namespaces=shapes[i % 5][0],
                    excluded_namespaces=shapes[i % 5][1],
                    items_backed_up=i % 977,
                    size_bytes=(i * 7919) % 10_000_000,
                    errors=i % 3,
                )
                for i in range(begin, min(args.backups, begin + chunk))
            )
    print(f"{args.backups:,} backups recorded in {time.perf_counter() - started:.1f}s ({connection.vendor})")

    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    cases = {
        "newest first": "",
        "sorted by name": "?sort=name",
        "sorted by size, descending": "?sort=-size",
        "sorted by duration": "?sort=duration",
        "sorted by name, page 2000": "?sort=name&page=2000",
        "namespace payments": "?namespace=payments",
        "namespace pay* (glob)": "?namespace=pay*",
        "namespace pay*, failed only": "?namespace=pay*&phase=Failed",
    }
    print(f"{'case':36} {'median ms':>10} {'worst ms':>10}")
    for name, query in cases.items():
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            response = client.get(f"/{query}")
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        print(f"{name:36} {statistics.median(times):10.0f} {max(times):10.0f}")

    query = QueryDict("sort=-size")
    _, shown = history_fragments(query, user, [], set())
    times = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        messages, _ = history_fragments(query, user, shown, set(shown[:3]))
        times.append((time.perf_counter() - began) * 1000)
    assert len(messages) == 3
    print(f"{'live update, 3 changed rows':36} {statistics.median(times):10.0f} {max(times):10.0f}")


if __name__ == "__main__":
    main()
