"""Fault injection: latency, failing requests by verb, resource and namespace, snapshot behaviour."""

from __future__ import annotations

import threading
from typing import Any

from aiohttp import web

from .api_status import status_response
from .snapshots import SnapshotController

FAULT_VERBS = (
    None,
    "list",
    "get",
    "exec",
    "create",
    "delete",
    "update",
    "patch",
    "watch",
    "log",
    "discovery",
)


class FaultsMixin:
    """Faults and latency the tests set, taken by the request handlers."""

    _lock: threading.Lock
    _faults: list
    _latency: dict
    snapshots: SnapshotController

    def set_latency(self, seconds: float, resource: str | None = None) -> None:
        """Delay every request (resource None) or those for one plural resource; a specific one wins."""
        with self._lock:
            if seconds:
                self._latency[resource] = float(seconds)
            else:
                self._latency.pop(resource, None)

    def fail(
        self,
        status: int = 500,
        resource: str | None = None,
        namespace: str | None = None,
        times: int | None = None,
        verb: str | None = None,
        skip: int = 0,
    ) -> None:
        """Answer matching requests with `status`, `times` times (None: until cleared), after
        letting the first `skip` of them through (a client reading ahead makes "from now on" racy)."""
        if verb not in FAULT_VERBS:
            raise ValueError(f"verb must be one of {FAULT_VERBS}")
        with self._lock:
            self._faults.append(
                {
                    "status": int(status),
                    "resource": resource,
                    "namespace": namespace,
                    "times": None if times is None else int(times),
                    "verb": verb,
                    "skip": int(skip),
                }
            )

    def clear_faults(self) -> None:
        """Remove every injected fault and all latency; reset the snapshot controller's behaviour."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
        self.snapshots.reset()

    def set_snapshot_behaviour(
        self, delay: float = 0.0, fail: bool = False, never_ready: bool = False
    ) -> None:
        """How the simulated CSI snapshot controller answers VolumeSnapshots created from now on:
        bind after ``delay`` seconds, set ``status.error`` (``fail``) or never bind (``never_ready``)."""
        self.snapshots.configure(delay=delay, fail=fail, never_ready=never_ready)

    def _take_fault(self, verb: str, resource: str | None, namespace: str | None) -> int | None:
        with self._lock:
            for f in self._faults:
                if (
                    (f["resource"] is None or f["resource"] == resource)
                    and (f["namespace"] is None or f["namespace"] == namespace)
                    and (f["verb"] is None or f["verb"] == verb)
                ):
                    if f["skip"] > 0:
                        f["skip"] -= 1
                        continue
                    if f["times"] is not None:
                        f["times"] -= 1
                        if f["times"] <= 0:
                            self._faults.remove(f)
                    return f["status"]
        return None

    def _latency_for(self, resource: str | None) -> float:
        with self._lock:
            if resource in self._latency:
                return self._latency[resource]
            return self._latency.get(None, 0.0)

    def _fault_response(self, code: int, verb: str, info: Any, namespace: str | None) -> web.Response:
        resource = info.resource if info else ""
        group = info.group if info else ""
        headers = None
        details = {"kind": resource} if resource else None
        if group and details:
            details["group"] = group
        if code == 403:
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            msg = (
                f'{resource or "resource"} is forbidden: User "system:serviceaccount:velero:velero" cannot '
                f'{verb} resource "{resource}" in API group "{group}"{where}'
            )
        elif code == 401:
            msg = "Unauthorized"
        elif code in (429, 503):
            msg = (
                "the server is currently unable to handle the request"
                if code == 503
                else "Too many requests, please try again later."
            )
            headers = {"Retry-After": "1"}
            details = dict(details or {}, retryAfterSeconds=1)
        elif code == 500:
            msg = "Internal error occurred: injected fault"
        else:
            msg = f"injected fault ({code})"
        return status_response(code, msg, details=details, headers=headers)
