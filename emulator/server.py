"""aiohttp application emulating the Kubernetes API server, and the ``KubeEmulator`` front end.

The emulator is one class assembled from one mixin per concern: discovery (`api_discovery`),
objects (`api_objects`), pod exec (`api_exec`), fault injection (`api_faults`) and the control
endpoint (`api_control`); this module keeps its lifecycle, its objects and the routing of requests.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any

import yaml
from aiohttp import web

from .api_control import ControlMixin
from .api_discovery import SERVER_VERSION, DiscoveryMixin
from .api_exec import ExecMixin
from .api_faults import FaultsMixin
from .api_objects import ObjectsMixin
from .api_status import _NOT_FOUND_MSG, status_response
from .controllers import WorkloadControllers
from .manifests import load_manifests
from .snapshots import SnapshotController
from .store import Store


class KubeEmulator(DiscoveryMixin, ObjectsMixin, ExecMixin, FaultsMixin, ControlMixin):
    """An in-process Kubernetes API server emulator serving over real HTTP (see emulator/README in docs)."""

    def __init__(
        self,
        objects: Iterable[dict] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        freeze_gc: bool | None = None,
        resources: list[dict] | None = None,
    ) -> None:
        """``freeze_gc``: after seeding, move every live object to the GC's permanent generation
        (``gc.freeze()``) so full collections stop scanning a huge cluster.
        Default: freeze when seeding >= 20,000 objects.
        ``resources``: serve exactly this discovery table instead of Kubernetes 1.31's built-in one
        (entries as in ``backups.engine.manifests.discovery_table``, see ``serve``), e.g. a cluster where
        deployments are also served by ``extensions`` or where a group prefers an older version."""
        self.store = Store(resources)
        self.store.add_many(objects)
        if freeze_gc is None:
            freeze_gc = sum(len(s) for s in self.store.stores.values()) >= 20_000
        if freeze_gc:
            gc.freeze()
        self.host = host
        self.port = port
        self.url = None
        self.exec_log = []
        self.requests = collections.Counter()
        self._lock = threading.Lock()
        self._faults = []
        self._latency = {}
        self._scripts = {}
        self.snapshots = SnapshotController(self.store)
        self.controllers = WorkloadControllers(self.store)
        self._thread = None
        self._loop = None
        self._stop_event = None
        self._websockets = set()

    @classmethod
    def from_manifests(cls, paths: str | os.PathLike | list, **kwargs: Any) -> KubeEmulator:
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return cls(objects=load_manifests(paths), **kwargs)

    def start(self) -> KubeEmulator:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        ready = threading.Event()
        errors = []

        def run():
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                runner = loop.run_until_complete(self._start_site(sock))
            except Exception as e:  # pragma: no cover
                errors.append(e)
                ready.set()
                return
            self._stop_event = asyncio.Event()
            ready.set()
            try:
                loop.run_until_complete(self._stop_event.wait())
                loop.run_until_complete(self._shutdown(runner))
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"kube-emulator-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:  # pragma: no cover
            raise errors[0]
        return self

    async def _start_site(self, sock: socket.socket) -> web.AppRunner:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    async def _shutdown(self, runner: web.AppRunner) -> None:
        for ws in list(self._websockets):
            await ws.close()
        await runner.cleanup()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> KubeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until stop() is called from another thread (used by the CLI)."""
        self.start()
        self._thread.join()

    def write_kubeconfig(self, path: str | os.PathLike, context: str = "emulator") -> str | os.PathLike:
        if self.url is None:
            raise RuntimeError("start() the emulator before writing a kubeconfig")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "emulator-token"}}],
            "contexts": [
                {"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}
            ],
            "current-context": context,
            "preferences": {},
        }
        with open(path, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        return path

    def serve(
        self,
        group: str,
        version: str,
        resource: str,
        kind: str,
        namespaced: bool,
        *,
        same_as: str | None = None,
        preferred: bool = False,
        **extra: Any,
    ) -> None:
        """Serve a resource at one more group/version. ``same_as`` ("deployments.apps") serves
        that resource's objects under this name too (reads answer with this apiVersion);
        ``preferred`` makes ``version`` its group's preferred version in discovery."""
        entry = {"group": group, "version": version, "resource": resource, "kind": kind}
        entry.update(namespaced=namespaced, sameAs=same_as, preferred=preferred, **extra)
        with self.store.lock:
            self.store.serve(entry)

    def add(self, obj: dict) -> dict:
        """Add or replace an object (CRDs register their resources)."""
        return self.store.add(obj)

    def delete(self, group_resource: str, namespace: str | None, name: str) -> None:
        """Delete by 'pods' / 'deployments.apps' / ('apps', 'deployments'); returns the object or None."""
        info = self.store.resolve(group_resource)
        if info is None:
            raise KeyError(f"unknown resource {group_resource!r}")
        return self.store.delete(info, namespace or "", name)

    def get(self, group_resource: str, namespace: str | None, name: str) -> dict | None:
        info = self.store.resolve(group_resource)
        entry = self.store.get(info, namespace or "", name) if info else None
        return entry.obj if entry else None

    def objects(self) -> list[dict]:
        return self.store.all_objects()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/_emulator/"):
            return await self._control(request)
        if path in ("/healthz", "/livez", "/readyz"):
            return web.Response(text="ok")
        segs = [s for s in path.split("/") if s]
        if not segs:
            return web.json_response(
                {
                    "paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
                    + [f"/apis/{g}" for g in self.store.groups if g]
                }
            )
        if segs[0] == "version" and len(segs) == 1:
            return await self._discovery(request, SERVER_VERSION)
        if segs[0] == "api":
            if len(segs) == 1:
                return await self._discovery(
                    request,
                    {
                        "kind": "APIVersions",
                        "versions": ["v1"],
                        "serverAddressByClientCIDRs": [
                            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                        ],
                    },
                )
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis":
            if len(segs) == 1:
                return await self._discovery(request, self._group_list())
            group = segs[1]
            if group == "" or group not in self.store.groups:
                return await self._discovery(request, None)
            if len(segs) == 2:
                return await self._discovery(request, self._api_group(group))
            version, rest = segs[2], segs[3:]
        else:
            return status_response(404, _NOT_FOUND_MSG)
        if version not in self.store.groups.get(group, ()):
            return await self._discovery(request, None)
        if not rest:
            return await self._discovery(request, self._resource_list(group, version))
        return await self._resource_request(request, group, version, rest)
