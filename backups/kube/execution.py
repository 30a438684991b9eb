"""Running a command in a container over the exec WebSocket, with a hard timeout."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import yaml
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL

from .errors import status_message

OUTPUT_LIMIT = 64 * 1024  # characters kept per stream (the last ones)
POLL_INTERVAL = 0.5


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when the command did not finish (timeout, connection error)
    stdout: str
    stderr: str
    error: str | None  # None on exit code 0; otherwise why the hook failed
    timed_out: bool
    duration: float  # seconds

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0


class _Tail:
    """Keeps the last `limit` characters written."""

    def __init__(self, limit: int = OUTPUT_LIMIT):
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def write(self, data: str) -> None:
        if not data:
            return
        self.parts.append(data)
        self.size += len(data)
        if self.size > 2 * self.limit:
            joined = "".join(self.parts)[-self.limit :]
            self.parts, self.size, self.truncated = [joined], len(joined), True

    def value(self) -> str:
        text = "".join(self.parts)
        if len(text) > self.limit:
            self.truncated = True
            text = text[-self.limit :]
        return text


def _handshake_error(exc: ApiException) -> str:
    """Readable text from a failed exec upgrade (the server's Status message when there is one).

    websocket-client words it `Handshake status 400 Bad Request -+-+- {headers} -+-+- body`.
    """
    text = str(getattr(exc, "reason", "") or exc)
    match = re.match(r"Handshake status (\d+)\s*([^-]*)", text)
    if not match:
        return f"exec connection failed: {text}"
    status = int(match.group(1))
    parts = text.split(" -+-+- ")
    body = parts[-1] if len(parts) >= 3 and parts[-1] != "None" else None
    message = status_message(status, body, match.group(2).strip())
    return f"exec refused: {message} (HTTP {status})"


def _exit_from_status(raw: str) -> tuple[int | None, str | None]:
    """(exit code, error) from the error channel's Status document."""
    if not raw or not raw.strip():
        return None, "exec stream closed without a status from the server"
    try:  # the API server sends JSON; YAML (a superset) reads whatever else, 100x slower
        doc = json.loads(raw)
    except ValueError:
        try:
            doc = yaml.safe_load(raw)
        except yaml.YAMLError:
            return None, f"unreadable exec status: {raw[:200]}"
    if not isinstance(doc, dict):
        return None, f"unreadable exec status: {raw[:200]}"
    if doc.get("status") == "Success":
        return 0, None
    message = str(doc.get("message") or doc.get("reason") or "command failed")
    if doc.get("reason") == "NonZeroExitCode":
        for cause in (doc.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message")), message
                except (TypeError, ValueError):
                    break
    return None, message


class ExecClients:
    """ApiClients for pod exec, one kept per thread between commands.

    Exec needs a client of its own: `kubernetes.stream.stream` patches the client's request method
    during the handshake, which must not leak into list/get calls on other threads. Building one
    loads the CA bundle (2.4 ms of CPU), twice per block with hooks, so each thread keeps its
    client, except after a handshake that timed out, which may still be using it.
    """

    def __init__(self, configuration: k8s_client.Configuration):
        self.configuration = configuration
        self._local = threading.local()
        self._all: list[k8s_client.ApiClient] = []
        self._lock = threading.Lock()

    def run(self, namespace: str, pod: str, container: str | None, command: Sequence[str], timeout: float):
        api_client = getattr(self._local, "client", None)
        if api_client is None:
            api_client = k8s_client.ApiClient(configuration=self.configuration)
            with self._lock:
                self._all.append(api_client)
        self._local.client = None
        result, reusable = run_exec(api_client, namespace, pod, container, command, timeout)
        if reusable:
            self._local.client = api_client
        return result

    def close(self) -> None:
        with self._lock:
            clients, self._all = self._all, []
        for api_client in clients:
            api_client.close()


def run_exec(
    api_client: k8s_client.ApiClient,
    namespace: str,
    pod: str,
    container: str | None,
    command: Sequence[str],
    timeout: float,
) -> tuple[ExecResult, bool]:
    """Run `command` in a container; stop waiting (and close the stream) after `timeout` seconds.

    Returns the result and whether `api_client` may serve another exec: not when the handshake
    timed out, as it may still be running with the client patched (see ExecClients).
    """
    if not command:
        raise ValueError("exec needs a non-empty command")
    started = time.monotonic()
    deadline = started + timeout
    stdout, stderr = _Tail(), _Tail()

    def result(exit_code, error, timed_out=False):
        return ExecResult(
            exit_code=exit_code,
            stdout=stdout.value(),
            stderr=stderr.value(),
            error=error,
            timed_out=timed_out,
            duration=time.monotonic() - started,
        )

    # The WebSocket handshake has no timeout of its own: run it in a thread and stop waiting.
    core = k8s_client.CoreV1Api(api_client)
    kwargs = dict(command=list(command), stderr=True, stdin=False, stdout=True, tty=False)
    if container:
        kwargs["container"] = container
    box: dict = {}
    lock = threading.Lock()

    def connect():
        try:
            outcome = {
                "ws": stream(
                    core.connect_get_namespaced_pod_exec, pod, namespace, _preload_content=False, **kwargs
                )
            }
        except ApiException as exc:
            outcome = {"error": _handshake_error(exc)}
        except Exception as exc:  # noqa: BLE001 - anything the handshake throws is a hook failure
            outcome = {"error": f"exec connection failed: {type(exc).__name__}: {exc}"}
        with lock:
            if box.get("abandoned"):
                if "ws" in outcome:
                    _close(outcome["ws"])
            else:
                box.update(outcome)

    thread = threading.Thread(target=connect, name=f"kube-exec-{namespace}/{pod}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        if "ws" not in box and "error" not in box:
            box["abandoned"] = True
    if box.get("abandoned"):
        return result(None, f"timed out after {timeout:g}s connecting to the exec endpoint", True), False
    if "error" in box:
        return result(None, box["error"]), True

    ws = box["ws"]
    timed_out = False
    error: str | None = None
    try:
        while ws.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if ws.sock is not None:
                ws.sock.settimeout(remaining)  # bounds a read stuck in the middle of a frame
            ws.update(timeout=min(remaining, POLL_INTERVAL))
            stdout.write(ws.read_stdout(timeout=0))
            stderr.write(ws.read_stderr(timeout=0))
        stdout.write(ws.read_stdout(timeout=0))
        stderr.write(ws.read_stderr(timeout=0))
    except Exception as exc:  # noqa: BLE001 - socket errors, websocket timeouts
        if time.monotonic() >= deadline:
            timed_out = True
        else:
            error = f"exec stream failed: {type(exc).__name__}: {exc}"
    if timed_out:
        # Closing the stream stops the command where the runtime allows (Velero PR #10125).
        _close(ws)
        return result(None, f"timed out after {timeout:g}s", True), True
    if error:
        _close(ws)
        return result(None, error), True
    raw_status = ws.read_channel(ERROR_CHANNEL, timeout=0)
    _close(ws)
    exit_code, error = _exit_from_status(raw_status)
    return result(exit_code, error), True


def _close(ws) -> None:
    try:
        ws.close(timeout=0.2)  # do not wait the default 3 s for the server's close frame
    except Exception:  # noqa: BLE001, S110 - closing a broken socket
        pass
