"""`manage.py run_dashboard` end to end: it serves, and on SIGTERM nothing it started is left."""

import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from veloweb.processes import free_port, spawn, stop, wait_for_http

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CLUSTER = REPO / "emulator" / "sample_cluster"
EMULATOR_READY = (
    (REPO / "emulator" / "__main__.py").exists() and SAMPLE_CLUSTER.is_dir() and any(SAMPLE_CLUSTER.iterdir())
)


def _descendants(pid: int) -> set[int]:
    """PIDs of all live (non-zombie) descendants of `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _run_dashboard(tmp_path, extra_env):
    env = {
        k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL", "VELOWEB_KUBECONFIG"}
    }
    env.update(
        VELOWEB_DATA_DIR=str(tmp_path / "data"), VELOWEB_WORKERS="1", PYTHONUNBUFFERED="1", **extra_env
    )
    port = free_port()
    log = tmp_path / "run.log"
    proc = spawn([sys.executable, "manage.py", "run_dashboard", "--port", port], env=env, cwd=REPO, log=log)
    return proc, f"http://127.0.0.1:{port}", log


def _stop_and_check_nothing_left(proc, log):
    children = _descendants(proc.pid)
    names = " | ".join(_cmdline(pid) for pid in children)
    assert "redis-server" in names and "uvicorn" in names and "rqworker" in names, names
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(30) == 0, log.read_text()
    except subprocess.TimeoutExpired:
        stop(proc)
        pytest.fail(f"run_dashboard did not stop on SIGTERM:\n{log.read_text()}")
    deadline = time.monotonic() + 5
    while (left := {pid for pid in children if os.path.exists(f"/proc/{pid}") and _cmdline(pid)}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert not left, [_cmdline(pid) for pid in left]


def test_run_dashboard_with_a_kubeconfig_serves_and_stops_cleanly(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "clusters: [{name: k, cluster: {server: 'https://k8s.example:6443'}}]\nusers: [{name: u, user: {}}]\n"
    )
    proc, url, log = _run_dashboard(
        tmp_path, {"VELOWEB_KUBECONFIG": str(kubeconfig), "VELOWEB_KUBE_CONTEXT": "c"}
    )
    try:
        wait_for_http(f"{url}/accounts/login/", proc, timeout=60, log=log)
        with urllib.request.urlopen(f"{url}/static/django_htmx/htmx-2.min.js") as response:
            assert response.status == 200
        output = log.read_text()
        assert "Created admin user 'admin' with password: " in output
        assert "Registered cluster 'c'" in output
        assert (tmp_path / "data" / "admin-password.txt").read_text().startswith("admin ")
        # the data dir and its secrets are private (veloweb/filemodes.py)
        assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
        for name in ("admin-password.txt", "secret_key", "veloweb.sqlite3", "veloweb.sqlite3-wal"):
            assert stat.S_IMODE((tmp_path / "data" / name).stat().st_mode) == 0o600, name
        _stop_and_check_nothing_left(proc, log)
    finally:
        stop(proc)


@pytest.mark.skipif(not EMULATOR_READY, reason="emulator/ or its sample cluster is not there yet")
def test_run_dashboard_starts_and_registers_the_sample_cluster(tmp_path):
    proc, url, log = _run_dashboard(tmp_path, {})
    try:
        wait_for_http(f"{url}/accounts/login/", proc, timeout=60, log=log)
        output = log.read_text()
        assert "serving the sample cluster at http" in output, output
        assert (tmp_path / "data" / "sample-kubeconfig.yaml").exists()
        names = " | ".join(_cmdline(pid) for pid in _descendants(proc.pid))
        assert "-m emulator" in names
        _stop_and_check_nothing_left(proc, log)
    finally:
        stop(proc)
