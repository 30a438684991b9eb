"""The audit trail at size: N entries (default 300,000) in a fresh database, then the Settings page
(filtered, paginated) and the streamed CSV and JSON exports through the real views.

    python bench/audit_export.py [--entries 300000]

Prints the time of each and the peak Python memory of each export (tracemalloc): streaming keeps it
to one chunk of rows however many entries there are. DATABASE_URL picks the database (default: a
SQLite file in a temporary data dir)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=300_000)
    args = parser.parse_args()
    os.environ.setdefault("VELOWEB_DATA_DIR", tempfile.mkdtemp(prefix="veloweb-bench-audit-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "veloweb.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from backups.models import AuditEntry

    call_command("migrate", verbosity=0)
    admin = User.objects.create_user("bench-admin")
    admin.groups.add(Group.objects.get(name="admin"))
    start = time.perf_counter()
    now = timezone.now()
    batch = []
    for number in range(args.entries):
        batch.append(
            AuditEntry(
                time=now, username=f"user-{number % 50}", address="10.0.0.1", via="web",
                action="backup.created", object_type="backup", object_id=str(number),
                object_name=f"nightly-{number}",
                details={"cluster": "prod", "phase": "Queued", "storage_location": "default"},
            )
        )  # fmt: skip
        if len(batch) == 5000:
            AuditEntry.objects.bulk_create(batch)
            batch.clear()
    AuditEntry.objects.bulk_create(batch)
    print(f"inserted {args.entries} entries in {time.perf_counter() - start:.1f} s")

    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    queries = (("page 1", {}), ("filtered by user", {"user": "user-7"}), ("last page", {"page": "last"}))
    for label, query in queries:
        start = time.perf_counter()
        response = client.get("/settings/audit/", query)
        assert response.status_code == 200
        print(f"audit page, {label}: {(time.perf_counter() - start) * 1000:.0f} ms")
    for fmt in ("csv", "json"):
        start = time.perf_counter()
        response = client.get(f"/settings/audit/export.{fmt}")
        size = sum(len(chunk) for chunk in response.streaming_content)
        elapsed = time.perf_counter() - start
        rate = args.entries / elapsed
        print(f"export {fmt}: {size / 2**20:.1f} MiB in {elapsed:.1f} s ({rate:,.0f} entries/s)")
    for fmt in ("csv", "json"):
        tracemalloc.start()  # a second pass: tracing slows it down several times
        response = client.get(f"/settings/audit/export.{fmt}")
        for _ in response.streaming_content:
            pass
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"export {fmt}: peak Python memory {peak:.1f} MiB")

if __name__ == "__main__":
    main()
