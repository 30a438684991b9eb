"""Preview expiry end to end: a real `manage.py run_cron` enqueues its periodic jobs, real RQ workers
run them, and the stale preview in the data folder they share is removed while a fresh one stays."""

import json
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import REPO
from veloweb.processes import spawn, stop

pytestmark = pytest.mark.usefixtures("rq_workers")


def write_preview(data_dir: Path, age: timedelta, state: str = "done") -> Path:
    """A preview folder as `backups.services.previews` leaves it, asked for `age` ago."""
    folder = data_dir / "previews" / secrets.token_hex(16)
    folder.mkdir(parents=True)
    created = datetime.now(UTC) - age
    request = {"cluster": 1, "prefix": "aged", "fields": {}, "user": "", "created": created.isoformat()}
    (folder / "request.json").write_text(json.dumps(request))
    (folder / "status.json").write_text(json.dumps({"state": state}))
    return folder


def test_run_cron_removes_expired_previews(stack_env, tmp_path):
    data_dir = Path(stack_env["VELOWEB_DATA_DIR"])
    expired = write_preview(data_dir, timedelta(hours=25))
    fresh = write_preview(data_dir, timedelta(hours=1))
    running = write_preview(data_dir, timedelta(hours=30), state="running")
    log = tmp_path / "cron.log"
    cron = spawn([sys.executable, "manage.py", "run_cron"], env=stack_env, cwd=REPO, log=log)
    try:
        deadline = time.monotonic() + 60
        while expired.exists():
            assert cron.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"{expired.name} is still there:\n{log.read_text()}"
            time.sleep(0.5)
    finally:
        stop(cron)
    assert fresh.is_dir() and running.is_dir()
    registered = "Registered 'backups.services.previews.expire_previews' to run on default every 3600 seconds"
    assert registered in log.read_text()
