import json
import time

import pytest
import websocket
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream


def run_exec(core, namespace, pod, command, container=None, timeout=10):
    kwargs = {"container": container} if container else {}
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
        **kwargs,
    )
    resp.run_forever(timeout=timeout)
    out, err, rc = resp.read_stdout(), resp.read_stderr(), resp.returncode
    resp.close()
    return out, err, rc


FREEZE = ["/bin/sh", "-c", "fsfreeze --freeze /var/lib/postgresql"]


def test_unscripted_exec_succeeds_silently(emu, core):
    assert run_exec(core, "shop", "db-0", FREEZE, container="postgres") == ("", "", 0)
    (entry,) = emu.exec_log
    assert entry["namespace"] == "shop" and entry["pod"] == "db-0" and entry["container"] == "postgres"
    assert entry["command"] == FREEZE and entry["exit_code"] == 0 and entry["stopped_early"] is False
    assert entry["started"] <= entry["finished"]
    assert emu.requests[("exec", "pods")] >= 1


@pytest.mark.parametrize("exit_code", [0, 1, 3, 137])
def test_scripted_exec_result(emu, core, exit_code):
    emu.script_exec("shop", "db-1", "postgres", stdout="frozen\n", stderr="warning: x\n", exit_code=exit_code)
    assert run_exec(core, "shop", "db-1", FREEZE, container="postgres") == (
        "frozen\n",
        "warning: x\n",
        exit_code,
    )
    assert emu.exec_log[-1]["exit_code"] == exit_code


def test_script_per_container_and_command_match(emu, core):
    emu.script_exec("shop", "db-2", stdout="any container")
    emu.script_exec("shop", "db-2", "exporter", stdout="exporter only")
    emu.script_exec("shop", "db-2", "postgres", stderr="cannot unfreeze", exit_code=2, match="--unfreeze")
    assert run_exec(core, "shop", "db-2", ["true"], container="exporter")[0] == "exporter only"
    assert run_exec(core, "shop", "db-2", ["true"], container="postgres")[0] == "any container"
    unfreeze = ["/bin/sh", "-c", "fsfreeze --unfreeze /var/lib/postgresql"]
    assert run_exec(core, "shop", "db-2", unfreeze, container="postgres") == ("", "cannot unfreeze", 2)


def test_large_output_is_chunked(emu, core):
    big = "x" * 200_000 + "\n"
    emu.script_exec("shop", "db-0", "postgres", stdout=big)
    assert run_exec(core, "shop", "db-0", ["cat", "dump"], container="postgres")[0] == big


def test_single_container_pod_needs_no_container_param(emu, core):
    emu.script_exec("shop", "web-7d4b9c8f6d-x2k9p", stdout="ok")
    assert run_exec(core, "shop", "web-7d4b9c8f6d-x2k9p", ["ls"]) == ("ok", "", 0)
    assert emu.exec_log[-1]["container"] == "nginx"


def test_unknown_container_reports_error_on_channel_3(emu, core):
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "db-0",
        "shop",
        command=["ls"],
        container="nope",
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=5)
    err = resp.read_channel(3)
    resp.close()
    assert "container nope not found in pod db-0" in err and '"status": "Failure"' in err


def test_missing_pod_is_404_before_upgrade(emu, core):
    with pytest.raises(ApiException) as e:
        run_exec(core, "shop", "no-such-pod", ["ls"])
    assert "404" in str(e.value)


def test_multi_container_pod_requires_container(emu, core):
    with pytest.raises(ApiException) as e:
        run_exec(core, "shop", "db-0", ["ls"])
    assert "400" in str(e.value)


def test_delay_is_applied(emu, core):
    emu.script_exec("shop", "db-0", "postgres", stdout="slow", delay=0.4)
    t0 = time.monotonic()
    assert run_exec(core, "shop", "db-0", ["sleep"], container="postgres") == ("slow", "", 0)
    assert time.monotonic() - t0 >= 0.4
    assert emu.exec_log[-1]["finished"] - emu.exec_log[-1]["started"] >= 0.4


def test_client_disconnect_during_delay_sets_stopped_early(emu, core):
    emu.script_exec("shop", "db-0", "postgres", stdout="late", delay=3.0)
    resp = stream(
        core.connect_get_namespaced_pod_exec,
        "db-0",
        "shop",
        command=["sleep", "3"],
        container="postgres",
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    resp.run_forever(timeout=0.3)
    assert resp.is_open()
    resp.close()
    deadline = time.monotonic() + 2
    while emu.exec_log[-1]["finished"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
    entry = emu.exec_log[-1]
    assert entry["stopped_early"] is True and entry["exit_code"] is None
    assert entry["finished"] - entry["started"] < 2.0


def test_exec_fault_injection(emu, core):
    emu.fail(500, resource="pods", verb="exec", times=1)
    with pytest.raises(ApiException):
        run_exec(core, "shop", "db-0", ["ls"], container="postgres")
    assert run_exec(core, "shop", "db-0", ["ls"], container="postgres")[2] == 0


@pytest.mark.parametrize(
    "offered,chosen",
    [
        ("v4.channel.k8s.io", "v4.channel.k8s.io"),
        ("v3.channel.k8s.io,v4.channel.k8s.io", "v4.channel.k8s.io"),
        ("channel.k8s.io", "channel.k8s.io"),
    ],
)
def test_subprotocol_negotiation_and_frames(emu, offered, chosen):
    emu.script_exec("shop", "db-0", "postgres", stdout="out", stderr="err", exit_code=3)
    url = emu.url.replace("http://", "ws://") + (
        "/api/v1/namespaces/shop/pods/db-0/exec?command=sh&command=-c&command=exit+3"
        "&container=postgres&stdout=true&stderr=true"
    )
    ws = websocket.create_connection(url, subprotocols=offered.split(","), timeout=5)
    assert ws.subprotocol == chosen
    frames = []
    while True:
        op, frame = ws.recv_data_frame(True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        frames.append(frame.data)
    ws.close()
    assert frames[:2] == [b"\x01out", b"\x02err"] and frames[2][0] == 3
    if chosen == "channel.k8s.io":
        assert b"exit code 3" in frames[2]
    else:
        status = json.loads(frames[2][1:])
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert emu.exec_log[-1]["command"] == ["sh", "-c", "exit 3"]
