"""The session fixtures in tests/conftest.py: uvicorn (with static files) and real RQ workers."""

import time
import urllib.request

import django_rq
import redis
from rq import Queue


def test_uvicorn_serves_login_and_static_htmx(live_server_url):
    with urllib.request.urlopen(f"{live_server_url}/") as response:  # redirected to the login page
        assert response.status == 200
        assert response.url.endswith("/accounts/login/?next=/")
    with urllib.request.urlopen(f"{live_server_url}/static/django_htmx/htmx-2.min.js") as response:
        assert response.status == 200
        assert b"htmx" in response.read()
    with urllib.request.urlopen(f"{live_server_url}/static/veloweb.css") as response:
        assert response.status == 200


def test_rq_workers_run_jobs_from_both_queues(stack_env, rq_workers):
    assert all(proc.poll() is None for proc in rq_workers)
    connection = redis.Redis.from_url(stack_env["REDIS_URL"])
    jobs = [Queue(name, connection=connection).enqueue("math.sqrt", 16.0) for name in ("default", "blocks")]
    deadline = time.monotonic() + 20
    while any(job.get_status(refresh=True) != "finished" for job in jobs):
        assert time.monotonic() < deadline, [job.get_status() for job in jobs]
        time.sleep(0.05)
    assert [job.return_value() for job in jobs] == [4.0, 4.0]
    connection.close()


def test_settings_queues_use_the_session_redis(stack_env):
    assert django_rq.get_connection("blocks").ping()
