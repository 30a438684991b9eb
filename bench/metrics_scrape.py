"""How long one `/metrics` scrape takes on a database with many rows: every value is an SQL
aggregate at scrape time (backups.metrics), so the cost grows with the rows kept.

    python bench/metrics_scrape.py [--backups 2000 --schedules 20 --blocks 300000 --hooks 50000 --scrapes 5]

Prints the rows made, the first scrape (which folds up to 200 ended backups' block, hook and batch
counters into the tally), the time to fold the rest (later scrapes do it 200 at a time), and then
each scrape once everything ended is folded: the collector and the text exposition, and the size
of the answer. A fresh SQLite database in a temporary folder, or DATABASE_URL's PostgreSQL server
in a database of its own. BENCH_PARTS=1 also times each part of the collector.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backups", type=int, default=2000)
    parser.add_argument("--schedules", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=300_000)
    parser.add_argument("--hooks", type=int, default=50_000)
    parser.add_argument("--scrapes", type=int, default=5)
    args = parser.parse_args()

    from veloweb.devstack import is_postgres, pg_admin, with_database
    from veloweb.embedded_redis import EmbeddedRedis

    root = Path(tempfile.mkdtemp(prefix="veloweb-metrics-bench-"))
    base_url, pg_name = os.environ.get("DATABASE_URL", ""), None
    if is_postgres(base_url):
        pg_name = f"veloweb_bench_{uuid.uuid4().hex[:10]}"
        pg_admin(base_url, f'CREATE DATABASE "{pg_name}"')
        os.environ["DATABASE_URL"] = with_database(base_url, pg_name)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{root / 'db.sqlite3'}"
    redis = EmbeddedRedis(root / "redis").start()
    os.environ.update(
        REDIS_URL=redis.url, VELOWEB_DATA_DIR=str(root / "data"), DJANGO_SETTINGS_MODULE="veloweb.settings"
    )
    try:
        run(args)
    finally:
        redis.stop()
        if pg_name:
            pg_admin(base_url, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def run(args) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from prometheus_client import CollectorRegistry, generate_latest

    from backups.metrics.collector import DatabaseCollector
    from backups.models import Backup, BackupDefinition, BlockRun, Cluster, HookRun

    call_command("migrate", verbosity=0)
    cluster = Cluster.objects.create(name="bench")
    for i in range(args.schedules):
        BackupDefinition.objects.create(name=f"sched-{i}", cluster=cluster, schedule="0 3 * * *")
    phases = [Backup.Phase.COMPLETED] * 6 + [Backup.Phase.PARTIALLY_FAILED, Backup.Phase.FAILED]
    now = timezone.now()
    backups = [
        Backup(
            name=f"b-{i}",
            cluster=cluster,
            phase=phases[i % len(phases)],
            schedule_name=f"sched-{i % args.schedules}" if i % 3 else "",
            attempt=1,
            started=now - timedelta(hours=i),
            completed=now - timedelta(hours=i) + timedelta(seconds=30 + i % 5000),
            total_items=1000,
            size_bytes=10_000 + i,
            snapshots_attempted=i % 3,
            snapshots_completed=i % 2,
        )
        for i in range(args.backups)
    ]
    Backup.objects.bulk_create(backups, batch_size=1000)
    ids = list(Backup.objects.values_list("pk", flat=True))
    per = max(1, args.blocks // len(ids))
    made = 0
    rows = []
    for backup_id in ids:
        for index in range(per):
            started = now - timedelta(seconds=index)
            rows.append(
                BlockRun(
                    backup_id=backup_id,
                    index=index,
                    batch=index // 10,
                    item_count=3,
                    first_item="pods ns/x",
                    state="done",
                    started=started,
                    finished=started + timedelta(milliseconds=50 + index % 3000),
                )
            )
            if len(rows) == 5000:
                BlockRun.objects.bulk_create(rows)
                made += len(rows)
                rows = []
    BlockRun.objects.bulk_create(rows)
    made += len(rows)
    hooks = [
        HookRun(backup_id=ids[i % len(ids)], block_index=0, phase="pre", namespace="ns", pod="p")
        for i in range(args.hooks)
    ]
    for i, hook in enumerate(hooks):
        hook.duration = 0.01 * (i % 500)
    HookRun.objects.bulk_create(hooks, batch_size=5000)
    print(f"rows: {len(ids)} backups, {args.schedules} schedules, {made} block runs, {args.hooks} hook runs")

    if os.environ.get("BENCH_PARTS"):
        from backups.metrics import collector, counts, tally

        parts = {
            "backup_counters": lambda: counts.backup_counters(Backup.objects.all()),
            "block_counters over every block (what folding saves a scrape)": lambda: counts.block_counters(
                BlockRun.objects.all()
            ),
            "hook_counters": lambda: counts.hook_counters(HookRun.objects.all()),
            "schedule_gauges": lambda: collector.schedule_gauges(collector.scheduled_definitions()),
            "csi": lambda: list(collector.csi_counters({""})),
            "tally": tally.totals,
        }
        for name, part in parts.items():
            start = time.perf_counter()
            part()
            print(f"  {name}: {(time.perf_counter() - start) * 1000:.0f} ms")
    from backups.metrics import tally

    start = time.perf_counter()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    generate_latest(registry)
    took = (time.perf_counter() - start) * 1000
    print(f"first scrape (folds {tally.FOLD_PER_SCRAPE} ended backups): {took:.0f} ms")
    start = time.perf_counter()
    folded = 0
    while n := tally.fold_ended():
        folded += n
    took = (time.perf_counter() - start) * 1000
    print(f"folding the other {folded} ended backups into the tally: {took:.0f} ms")
    for n in range(args.scrapes):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(DatabaseCollector())
        start = time.perf_counter()
        text = generate_latest(registry)
        took = (time.perf_counter() - start) * 1000
        lines = text.count(b"\n")
        print(f"scrape {n + 1}: {took:.0f} ms, {len(text)} bytes, {lines} lines")


if __name__ == "__main__":
    main()
