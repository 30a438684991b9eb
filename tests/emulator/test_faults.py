import json
import time
import urllib.request

import pytest
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream


def post(emu, action, body=None):
    req = urllib.request.Request(
        f"{emu.url}/_emulator/{action}",
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def get(emu, action):
    with urllib.request.urlopen(f"{emu.url}/_emulator/{action}", timeout=5) as resp:
        return json.loads(resp.read())


def test_fail_times_then_recovers(emu, core):
    emu.fail(500, resource="pods", times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as e:
            core.list_namespaced_pod("shop")
        assert e.value.status == 500 and '"reason": "InternalError"' in e.value.body
    assert len(core.list_namespaced_pod("shop").items) > 0


def test_skip_lets_the_first_requests_through(emu, core):
    emu.fail(500, resource="pods", times=1, skip=2)
    for _ in range(2):
        assert len(core.list_namespaced_pod("shop").items) > 0
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("shop")
    assert e.value.status == 500
    assert len(core.list_namespaced_pod("shop").items) > 0


def test_forbidden_on_one_resource_until_cleared(emu, core):
    emu.fail(403, resource="secrets")
    for _ in range(3):
        with pytest.raises(ApiException) as e:
            core.list_namespaced_secret("shop")
        assert e.value.status == 403
    assert "secrets is forbidden" in e.value.body
    assert core.list_namespaced_config_map("shop").items
    emu.clear_faults()
    assert core.list_namespaced_secret("shop").items


def test_fault_filters_by_namespace_and_verb(emu, core):
    emu.fail(404, resource="pods", namespace="payments", verb="get")
    assert core.list_namespaced_pod("payments").items
    assert core.read_namespaced_pod("db-0", "shop")
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("payments-api-5f6b8d9c47-h8w2n", "payments")
    assert e.value.status == 404


def test_429_has_retry_after(emu, core):
    emu.fail(429, resource="configmaps", times=1)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{emu.url}/api/v1/namespaces/shop/configmaps", timeout=5)
    body = json.loads(e.value.read())
    assert e.value.code == 429 and e.value.headers["Retry-After"] == "1"
    assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 1
    # The official client (urllib3 Retry) honours Retry-After on 429/503 and retries transparently.
    emu.fail(429, resource="configmaps", times=1)
    before = emu.requests[("list", "configmaps")]
    assert core.list_namespaced_config_map("shop").items
    assert emu.requests[("list", "configmaps")] == before + 2


def test_latency_is_measurable(emu, core):
    t0 = time.monotonic()
    core.list_namespaced_pod("shop")
    base = time.monotonic() - t0
    emu.set_latency(0.3, resource="pods")
    t0 = time.monotonic()
    core.list_namespaced_pod("shop")
    slow = time.monotonic() - t0
    t0 = time.monotonic()
    core.list_namespaced_config_map("shop")
    other = time.monotonic() - t0
    print(
        f"latency: base {base * 1000:.1f} ms, pods with 0.3 s latency {slow * 1000:.1f} ms, "
        f"configmaps {other * 1000:.1f} ms"
    )
    assert slow >= 0.3 and other < 0.3
    emu.set_latency(0, resource="pods")
    emu.set_latency(0.2)
    t0 = time.monotonic()
    core.list_namespaced_config_map("shop")
    assert time.monotonic() - t0 >= 0.2


def test_request_counts(emu, core):
    before = emu.requests[("list", "configmaps")]
    core.list_namespaced_config_map("shop")
    core.list_config_map_for_all_namespaces()
    core.read_namespaced_config_map("db-config", "shop")
    assert emu.requests[("list", "configmaps")] == before + 2
    assert emu.requests[("get", "configmaps")] >= 1


def test_control_endpoint(emu, core):
    assert post(emu, "fail", {"status": 500, "resource": "services", "times": 1}) == {"ok": True}
    with pytest.raises(ApiException) as e:
        core.list_namespaced_service("shop")
    assert e.value.status == 500
    assert core.list_namespaced_service("shop").items

    post(emu, "fail", {"status": 500})
    with pytest.raises(ApiException):
        core.list_namespace()
    post(emu, "clear")
    assert core.list_namespace().items

    post(emu, "latency", {"seconds": 0.25, "resource": "namespaces"})
    t0 = time.monotonic()
    core.list_namespace()
    assert time.monotonic() - t0 >= 0.25
    post(emu, "clear")

    post(
        emu,
        "script_exec",
        {"namespace": "shop", "pod": "db-0", "container": "postgres", "stdout": "hello", "exit_code": 4},
    )
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "db-0",
        "shop",
        command=["echo"],
        container="postgres",
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=5)
    assert resp.read_stdout() == "hello" and resp.returncode == 4
    resp.close()
    log = get(emu, "exec_log")
    assert log[-1]["pod"] == "db-0" and log[-1]["exit_code"] == 4 and log[-1]["command"] == ["echo"]
    assert any(r["verb"] == "exec" for r in get(emu, "requests"))

    with pytest.raises(urllib.error.HTTPError) as e:
        post(emu, "fail", {"status": 500, "verb": "frobnicate"})
    assert e.value.code == 400
