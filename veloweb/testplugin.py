"""pytest plugin (loaded with `-p veloweb.testplugin`): a private Redis and data dir per test session.

pytest-django imports the settings in its own `pytest_load_initial_conftests`, so REDIS_URL must be
exported before that: conftest.py hooks run too late. Set REDIS_URL to use a real server instead.
"""

import os
import shutil
import tempfile

import pytest

from veloweb.embedded_redis import EmbeddedRedis

_state = {}


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    if not os.environ.get("VELOWEB_DATA_DIR"):
        _state["data_dir"] = tempfile.mkdtemp(prefix="veloweb-test-data-")
        os.environ["VELOWEB_DATA_DIR"] = _state["data_dir"]
    if not os.environ.get("REDIS_URL"):
        _state["redis"] = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = _state["redis"].url


def pytest_report_header(config):
    source = f"embedded (pid {_state['redis'].pid})" if "redis" in _state else "from REDIS_URL"
    return [f"veloweb: redis {source}: {os.environ.get('REDIS_URL')}"]


def pytest_unconfigure(config):
    redis_server = _state.pop("redis", None)
    if redis_server is not None:
        redis_server.stop()
        os.environ.pop("REDIS_URL", None)
    data_dir = _state.pop("data_dir", None)
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)
        os.environ.pop("VELOWEB_DATA_DIR", None)
