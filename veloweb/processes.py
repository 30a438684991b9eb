"""Start and stop child processes by PID, so that nothing outlives the process that started it.

Shared by the run command (`manage.py run_dashboard`), the embedded Redis and the test fixtures.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it if the parent dies (even by SIGKILL)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def spawn(args, *, env=None, cwd=None, log: Path | None = None) -> subprocess.Popen:
    """Start `args` in its own session (Ctrl-C reaches only the parent, which stops children in order).

    Output goes to `log` when given, otherwise to the parent's stdout/stderr.
    """
    out = open(log, "ab") if log else None  # the child process keeps its own copy
    try:
        return subprocess.Popen(
            [str(a) for a in args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
    finally:
        if out:
            out.close()


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> int | None:
    """SIGTERM the process, wait up to `timeout` seconds, then SIGKILL it. Returns its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        return None


def stop_all(procs, timeout: float = 15.0) -> None:
    """SIGTERM every process first (they shut down in parallel), then wait for each and kill stragglers."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0, log=None) -> None:
    """Poll `url` (following redirects) until it answers 200; fail early if `proc` exits."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                last_error = response.status
        except (urllib.error.URLError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last_error}){_tail(log)}")


def _tail(log, lines: int = 40) -> str:
    if not log or not os.path.exists(log):
        return ""
    text = Path(log).read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- {log} ---\n" + "\n".join(text)
