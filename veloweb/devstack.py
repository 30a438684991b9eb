"""A private Veloweb stack in subprocesses (Redis, database, RQ workers, watchdog) for fault tests
and benchmarks: every piece can be killed and started again, and is stopped by PID at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from veloweb.embedded_redis import EmbeddedRedis
from veloweb.processes import free_port, spawn, stop_all, wait_for_http

REPO = Path(__file__).resolve().parent.parent
# Debian's Chromium, as Playwright should launch it here (no downloaded browser; no network chatter)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def children(pid: int) -> list[int]:
    """Direct children of a process (RQ's work horses of a worker), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def pg_admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


class DevStack:
    """Everything a backup needs, private to `root`; PostgreSQL when DATABASE_URL points there."""

    def __init__(self, root: Path, **settings: str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = os.environ.copy()
        self.env.update(
            DJANGO_SETTINGS_MODULE="veloweb.settings",
            VELOWEB_DATA_DIR=str(self.root / "data"),
            PYTHONUNBUFFERED="1",
            **{k: str(v) for k, v in settings.items()},
        )
        self.workers: list[subprocess.Popen] = []
        self.watchdog: subprocess.Popen | None = None
        self.cron: subprocess.Popen | None = None
        self.web: subprocess.Popen | None = None
        self.redis: EmbeddedRedis | None = None
        self._pg_base, self._pg_name = os.environ.get("DATABASE_URL", ""), None

    def start(self, workers: int = 2, watchdog: bool = True, cron: bool = False) -> DevStack:
        if is_postgres(self._pg_base):
            self._pg_name = f"veloweb_dev_{uuid.uuid4().hex[:10]}"
            pg_admin(self._pg_base, f'CREATE DATABASE "{self._pg_name}"')
            self.env["DATABASE_URL"] = with_database(self._pg_base, self._pg_name)
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.root / 'db.sqlite3'}"
        self.start_redis()
        self.manage("migrate", "--noinput")
        self.start_workers(workers)
        if watchdog:
            self.start_watchdog()
        if cron:
            self.start_cron()
        return self

    def start_redis(self) -> None:
        self.redis = EmbeddedRedis(self.root / "redis").start()
        self.env["REDIS_URL"] = self.redis.url

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            name = f"dev-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.workers.append(
                spawn(
                    [sys.executable, "manage.py", "rqworker", "default", "blocks", "--name", name],
                    env=self.env,
                    cwd=REPO,
                    log=self.root / f"worker-{name}.log",
                )
            )

    def start_watchdog(self, interval: float = 0.5) -> None:
        self.watchdog = spawn(
            [sys.executable, "manage.py", "backup_watchdog", "--interval", str(interval)],
            env=self.env,
            cwd=REPO,
            log=self.root / "watchdog.log",
        )

    def start_cron(self, schedule_interval: int = 1, gc_interval: int | None = None) -> None:
        """`manage.py run_cron`: the schedule tick every `schedule_interval` s (and expiry)."""
        env = {**self.env, "VELOWEB_SCHEDULE_INTERVAL": str(schedule_interval)}
        if gc_interval is not None:
            env["VELOWEB_GC_INTERVAL"] = str(gc_interval)
        self.cron = spawn(
            [sys.executable, "manage.py", "run_cron"], env=env, cwd=REPO, log=self.root / "cron.log"
        )

    def start_web(self) -> str:
        """uvicorn serving the dashboard on a free port; its base URL."""
        port = free_port()
        log = self.root / "uvicorn.log"
        args = ["-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1", "--port", port]
        self.web = spawn([sys.executable, *args, "--lifespan", "off"], env=self.env, cwd=REPO, log=log)
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/accounts/login/", self.web, timeout=30, log=log)
        return url

    def kill_workers(self) -> None:
        """SIGKILL every worker and every work horse it forked, as an OOM killer would."""
        pids = [w.pid for w in self.workers]
        for pid in pids + [c for p in pids for c in children(p)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for worker in self.workers:
            worker.wait(10)
        self.workers = []

    def kill_horses(self) -> int:
        horses = [c for w in self.workers for c in children(w.pid)]
        for pid in horses:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(horses)

    def manage(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode:
            raise RuntimeError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def backup_state(self, name: str) -> dict:
        import json

        code = (
            "import json; from backups.models import Backup; "
            f"b = Backup.objects.get(name={name!r}); "
            "print(json.dumps(dict(phase=b.phase, total=b.total_items, done=b.items_backed_up, "
            "errors=b.errors, warnings=b.warnings, blocks=b.total_blocks, blocks_done=b.blocks_done, "
            "reason=b.failure_reason, log=[(e.level, e.resource, e.namespace, e.message) "
            "for e in b.log_entries.all()[:50]])))"
        )
        return json.loads(self.manage("shell", "-c", code).stdout.strip().splitlines()[-1])

    def wait_until_done(self, name: str, timeout: float = 300, poll: float = 0.5) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            state = self.backup_state(name)
            if state["phase"] in ("Completed", "PartiallyFailed", "Failed", "FailedValidation", "Cancelled"):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"backup {name} still {state['phase']} after {timeout}s: {state}")
            time.sleep(poll)

    def storage(self) -> Path:
        return Path(self.env["VELOWEB_DATA_DIR"]) / "storage"

    def stop(self) -> None:
        stop_all(self.workers + [p for p in (self.watchdog, self.cron, self.web) if p], timeout=10)
        self.workers, self.watchdog, self.cron, self.web = [], None, None, None
        if self.redis:
            self.redis.stop()
            self.redis = None
        if self._pg_name:
            pg_admin(self._pg_base, f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            self._pg_name = None

    def __enter__(self) -> DevStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
