"""The data dir and the files holding secrets are private to the account running Veloweb: created
0700/0600 on a fresh install, and tightened on start for an install made before (veloweb/filemodes.py,
called from the settings, so by every process: dashboard, workers, commands)."""

import os
import stat
import subprocess
import sys

from tests.conftest import REPO

SECRETS = [
    "secret_key",
    "veloweb.sqlite3",
    "veloweb.sqlite3-wal",
    "veloweb.sqlite3-shm",
    "admin-password.txt",
]


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def manage(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env["VELOWEB_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_fresh_install_creates_its_data_private(tmp_path):
    data = tmp_path / "data"
    manage(data, "migrate", "--noinput")
    assert mode(data) == 0o700
    assert mode(data / "secret_key") == mode(data / "veloweb.sqlite3") == 0o600
    # SQLite's -wal and -shm files exist while a connection is open; they take the database's mode
    modes = manage(
        data,
        "shell",
        "--no-imports",
        "-c",
        "import os, stat\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "connection.cursor().execute('SELECT count(*) FROM django_migrations')\n"
        "for suffix in ('-wal', '-shm'):\n"
        '    print(oct(stat.S_IMODE(os.stat(f\'{settings.DATABASES["default"]["NAME"]}{suffix}\').st_mode)))',
    ).stdout.split()
    assert modes == ["0o600", "0o600"]


def test_an_existing_install_is_tightened_on_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    for name in SECRETS:
        (data / name).write_text("x" if name != "veloweb.sqlite3" else "")
        (data / name).chmod(0o644)
    (data / "secret_key").write_text("an-old-secret-key-" + "k" * 40)
    (data / "veloweb.sqlite3-wal").unlink()  # a stale WAL of another database would not open
    (data / "veloweb.sqlite3-shm").unlink()
    (data / "veloweb.sqlite3-wal").touch(mode=0o644)
    manage(data, "check")
    assert mode(data) == 0o700
    for name in ["secret_key", "veloweb.sqlite3", "veloweb.sqlite3-wal", "admin-password.txt"]:
        assert mode(data / name) == 0o600, name


def test_a_stricter_mode_is_kept(tmp_path):
    data = tmp_path / "data"
    manage(data, "check")
    (data / "secret_key").chmod(0o400)
    manage(data, "check")
    assert mode(data / "secret_key") == 0o400
