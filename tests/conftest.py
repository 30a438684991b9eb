"""Session fixtures for tests that run the real stack as subprocesses.

`stack_env` is the environment every subprocess shares (a file database they can all see, Redis,
settings); `live_server_url` is uvicorn serving veloweb.asgi; `rq_workers` are real `rqworker`
processes on the `default` and `blocks` queues. Each process is stopped by PID at session end.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from veloweb.devstack import is_postgres, pg_admin, with_database
from veloweb.processes import free_port, spawn, stop, stop_all, wait_for_http

REPO = Path(__file__).resolve().parent.parent
RQ_WORKER_COUNT = int(os.environ.get("VELOWEB_TEST_WORKERS", "2"))


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory):
    """Environment for subprocesses, with a migrated database of their own.

    pytest-django's test database is in memory (SQLite) or private to this process, so the
    subprocesses get a SQLite file here, or a fresh PostgreSQL database when DATABASE_URL is PG.
    """
    tmp = tmp_path_factory.mktemp("stack")
    env = os.environ.copy()
    env.update(
        DJANGO_SETTINGS_MODULE="veloweb.settings",
        REDIS_URL=settings.REDIS_URL,
        VELOWEB_DATA_DIR=str(tmp / "data"),
        PYTHONUNBUFFERED="1",
    )
    base_url = os.environ.get("DATABASE_URL", "")
    pg_database = None
    if is_postgres(base_url):
        pg_database = f"veloweb_stack_{uuid.uuid4().hex[:10]}"
        pg_admin(base_url, f'CREATE DATABASE "{pg_database}"')
        env["DATABASE_URL"] = with_database(base_url, pg_database)
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'stack.sqlite3'}"
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            pytest.fail(f"manage.py migrate failed:\n{result.stdout}\n{result.stderr}")
        yield env
    finally:
        if pg_database:
            pg_admin(base_url, f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_server_url(stack_env, tmp_path_factory):
    """Base URL (no trailing slash) of uvicorn serving veloweb.asgi:application on a free port."""
    log = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    port = free_port()
    proc = spawn(
        [sys.executable, "-m", "uvicorn", "veloweb.asgi:application", "--host", "127.0.0.1", "--port", port,
         "--lifespan", "off"],
        env=stack_env,
        cwd=REPO,
        log=log,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/", proc, timeout=30, log=log)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def rq_workers(stack_env, tmp_path_factory):
    """RQ_WORKER_COUNT `manage.py rqworker default blocks` processes, registered in Redis."""
    import redis
    from rq import Worker

    logs = tmp_path_factory.mktemp("rqworkers")
    names = [f"veloweb-test-{os.getpid()}-{i}" for i in range(RQ_WORKER_COUNT)]
    procs = [
        spawn(
            [sys.executable, "manage.py", "rqworker", "default", "blocks", "--name", name],
            env=stack_env,
            cwd=REPO,
            log=logs / f"{name}.log",
        )
        for name in names
    ]
    connection = redis.Redis.from_url(stack_env["REDIS_URL"])
    try:
        deadline = time.monotonic() + 30
        while {w.name for w in Worker.all(connection=connection)} < set(names):
            dead = [p for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                output = "\n".join(f"--- {log}\n{log.read_text()}" for log in sorted(logs.iterdir()))
                pytest.fail(f"rq workers did not register (exited: {[p.pid for p in dead]}):\n{output}")
            time.sleep(0.1)
        yield procs
    finally:
        stop_all(procs, timeout=15)
        connection.close()
