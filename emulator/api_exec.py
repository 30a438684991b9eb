"""Pod exec over WebSocket (the channel.k8s.io protocols), answered by scripts the tests set."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import WSMsgType, web

from .api_status import status_response

EXEC_PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)


_CHUNK = 32 * 1024  # bytes of output per WebSocket frame


class ExecMixin:
    """`pods/exec`: scripted answers, an exec log, latency and faults like any request."""

    _lock: threading.Lock
    _scripts: dict
    exec_log: list
    _websockets: set

    def script_exec(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        stdout: str | bytes = "",
        stderr: str | bytes = "",
        exit_code: int = 0,
        delay: float = 0.0,
        match: list[str] | None = None,
    ) -> None:
        """Script the result of exec in a pod (container None = any; match = substring of the command)."""
        with self._lock:
            self._scripts[(namespace, pod, container, match)] = {
                "stdout": stdout,
                "stderr": stderr,
                "exit_code": int(exit_code),
                "delay": float(delay),
            }

    def clear_exec_scripts(self) -> None:
        with self._lock:
            self._scripts.clear()

    def _find_script(self, namespace: str, pod: str, container: str, command: list[str]) -> dict | None:
        cmd = " ".join(command)
        with self._lock:
            for c in (container, None):
                for (ns, p, sc, m), script in self._scripts.items():
                    if ns == namespace and p == pod and sc == c and m is not None and m in cmd:
                        return script
                script = self._scripts.get((namespace, pod, c, None))
                if script:
                    return script
        return {"stdout": "", "stderr": "", "exit_code": 0, "delay": 0.0}

    async def _exec(self, request: web.Request, ns: str, name: str) -> web.StreamResponse:
        pods = self.store.resources[("", "pods")]
        entry = self.store.get(pods, ns, name)
        if entry is None:
            return self._not_found(pods, name)
        pod = entry.obj
        q = request.query
        command = q.getall("command", [])
        if not command:
            return status_response(400, "you must specify at least 1 command")
        spec = pod.get("spec") or {}
        containers = [c.get("name") for c in spec.get("containers") or []]
        sidecars = [
            c.get("name") for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
        ]
        container = q.get("container")
        if not container:
            if len(containers) == 1:
                container = containers[0]
            else:
                return status_response(
                    400,
                    f"a container name must be specified for pod {name}, choose one "
                    f"of: [{' '.join(containers)}]",
                )
        if not spec.get("nodeName"):
            return status_response(400, f"pod {name} does not have a host assigned")
        offered = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        if offered:
            chosen = next((p for p in EXEC_PROTOCOLS if p in offered), None)
            if chosen is None:
                return status_response(
                    400,
                    f"requested protocol(s) are not supported: {offered}; supported "
                    f"protocols are {list(EXEC_PROTOCOLS)}",
                )
        else:
            chosen = None
        ws = web.WebSocketResponse(protocols=(chosen,) if chosen else (), timeout=2.0, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            return status_response(400, "Upgrade request required")
        await ws.prepare(request)
        self._websockets.add(ws)
        v4 = chosen in ("v5.channel.k8s.io", "v4.channel.k8s.io")
        record = {
            "namespace": ns,
            "pod": name,
            "container": container,
            "command": command,
            "started": time.time(),
            "finished": None,
            "exit_code": None,
            "stopped_early": False,
        }
        self.exec_log.append(record)
        try:
            if container not in containers and container not in sidecars:
                msg = f"container {container} not found in pod {name}"
                record["error"] = msg
                if v4:
                    err = {
                        "metadata": {},
                        "status": "Failure",
                        "message": msg,
                        "reason": "InternalError",
                        "details": {"causes": [{"message": msg}]},
                        "code": 500,
                    }
                    await ws.send_bytes(b"\x03" + json.dumps(err).encode())
                else:
                    await ws.send_bytes(b"\x03" + msg.encode())
                return ws
            script = self._find_script(ns, name, container, command)
            if await self._wait_or_disconnect(ws, script["delay"]):
                record["stopped_early"] = True
                return ws
            for channel, data in ((1, script["stdout"]), (2, script["stderr"])):
                if isinstance(data, str):
                    data = data.encode()
                for i in range(0, len(data), _CHUNK):
                    await ws.send_bytes(bytes([channel]) + data[i : i + _CHUNK])
            code = script["exit_code"]
            record["exit_code"] = code
            if code == 0:
                if v4:
                    await ws.send_bytes(b'\x03{"metadata":{},"status":"Success"}')
            else:
                msg = (
                    f"command terminated with non-zero exit code: error executing command "
                    f"[{' '.join(command)}], exit code {code}"
                )
                if v4:
                    err = {
                        "metadata": {},
                        "status": "Failure",
                        "message": msg,
                        "reason": "NonZeroExitCode",
                        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
                    }
                    await ws.send_bytes(b"\x03" + json.dumps(err).encode())
                else:
                    await ws.send_bytes(b"\x03" + msg.encode())
            return ws
        except (ConnectionError, asyncio.CancelledError):
            record["stopped_early"] = record["exit_code"] is None
            raise
        finally:
            record["finished"] = time.time()
            self._websockets.discard(ws)
            if not ws.closed:
                try:
                    await ws.close()
                except (ConnectionError, asyncio.CancelledError):  # pragma: no cover
                    pass

    async def _wait_or_disconnect(self, ws: web.WebSocketResponse, delay: float) -> bool:
        """Sleep ``delay`` seconds while draining client frames; True if the client went away first."""
        if delay <= 0:
            return False
        deadline = asyncio.get_running_loop().time() + delay
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=left)
            except TimeoutError:
                return False
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return True
