"""Dashboard latency: block finished → row shown, and the page load of a 10,000-block backup.

Starts its own embedded Redis, a SQLite stack database, uvicorn, and headless Chromium; creates a
backup with BLOCKS BlockRun rows directly; then, SAMPLES times, marks one row done, calls
`progress.blocks_changed` as the jobs do, and times until the browser shows it. Blocks finish at
random intervals (0-500 ms), so some updates wait for the consumer's coalescing window.

    .venv/bin/python bench/ui_latency.py [--blocks 10000] [--samples 60]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from veloweb.devstack import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

SETUP = """
from django.contrib.auth.models import User
from backups.models import Backup, BlockRun, Cluster
User.objects.create_superuser("bench", password="bench-Pass-1")
cluster = Cluster.objects.create(name="bench", in_cluster=True)
b = Backup.objects.create(name="bench-1", cluster=cluster, phase="InProgress", total_blocks={blocks},
                          total_items={blocks} * 3)
rows = (BlockRun(backup=b, index=i, batch=i // 50, item_count=3, first_item=f"pods ns-{{i % 40}}/pod-{{i}}")
        for i in range({blocks}))
BlockRun.objects.bulk_create(rows, batch_size=1000)
print(b.pk)
"""


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()

    from veloweb.embedded_redis import EmbeddedRedis
    from veloweb.processes import free_port, spawn, stop, wait_for_http

    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        redis = EmbeddedRedis(Path(tmp) / "redis").start()
        uvicorn = None
        try:
            env = os.environ | {
                "DJANGO_SETTINGS_MODULE": "veloweb.settings",
                "REDIS_URL": redis.url,
                "VELOWEB_DATA_DIR": str(Path(tmp) / "data"),
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            }
            os.environ.update(env)
            run = [sys.executable, "manage.py"]
            subprocess.run([*run, "migrate", "-v0"], cwd=REPO, env=env, check=True)
            created = subprocess.run(
                [*run, "shell", "-c", SETUP.format(blocks=args.blocks)],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            backup_id = int(created.stdout.split()[-1])
            port = free_port()
            uvicorn = spawn(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "veloweb.asgi:application",
                    "--port",
                    port,
                    "--lifespan",
                    "off",
                    "--log-level",
                    "warning",
                ],
                env=env,
                cwd=REPO,
            )
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/", uvicorn, timeout=30)
            measure(url, backup_id, args)
        finally:
            if uvicorn:
                stop(uvicorn)
            redis.stop()


def measure(url: str, backup_id: int, args) -> None:
    import django

    django.setup()
    from playwright.sync_api import sync_playwright

    from backups.live import progress
    from backups.models import BlockRun

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=url)
        page.goto("/accounts/login/")
        page.fill("#id_username", "bench")
        page.fill("#id_password", "bench-Pass-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")

        loads = []
        for _ in range(10):
            started = time.perf_counter()
            page.goto(f"/backups/{backup_id}/")
            page.wait_for_selector("body[data-ws=open]")
            page.wait_for_selector("#block-99")
            loads.append(time.perf_counter() - started)
        print(
            f"detail page of a {args.blocks:,}-block backup, load until live: "
            f"median {statistics.median(loads) * 1000:.0f} ms, max {max(loads) * 1000:.0f} ms"
        )

        def finish(backup_id: int, index: int) -> None:
            """What a job does; in another thread (Playwright's sync API runs an event loop here)."""
            BlockRun.objects.filter(backup_id=backup_id, index=index).update(state=BlockRun.State.DONE)
            progress.blocks_changed(backup_id, [index])

        worker = ThreadPoolExecutor(1)
        latencies = []
        for index in random.sample(range(100), min(args.samples, 100)):
            time.sleep(random.uniform(0, 0.5))
            started = time.perf_counter()
            worker.submit(finish, backup_id, index).result()
            page.wait_for_selector(f"#block-{index}.state-done", timeout=10_000)
            latencies.append(time.perf_counter() - started)
        print(
            f"block done → row shown ({len(latencies)} samples): median "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms"
        )
        browser.close()


if __name__ == "__main__":
    main()
