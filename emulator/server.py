"""aiohttp application emulating the Kubernetes API server, and the ``KubeEmulator`` front end."""

import asyncio
import collections
import gc
import json
import os
import random
import socket
import threading
import time

import yaml
from aiohttp import WSMsgType, web

from backups.engine.planning.label_selectors import InvalidSelector, parse_selector

from .field_selectors import SelectorError, match_fields, parse_field_selector
from .manifests import load_manifests
from .snapshots import SnapshotController
from .store import Store, decode_continue, encode_continue

SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b",
    "gitTreeState": "clean",
    "buildDate": "2024-12-10T18:44:10Z",
    "goVersion": "go1.22.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
EXEC_PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)
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
_NOT_FOUND_MSG = "the server could not find the requested resource"
_CHUNK = 32 * 1024


def status_body(code, message, reason=None, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def status_response(code, message, reason=None, details=None, headers=None):
    return web.json_response(status_body(code, message, reason, details), status=code, headers=headers)


def _gr(info):
    return f"{info.resource}.{info.group}" if info.group else info.resource


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (also used, approximately, for strategic merge patches)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


class KubeEmulator:
    """An in-process Kubernetes API server emulator serving over real HTTP (see emulator/README in docs)."""

    def __init__(self, objects=(), host="127.0.0.1", port=0, freeze_gc=None, resources=None):
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
        self._thread = None
        self._loop = None
        self._stop_event = None
        self._websockets = set()

    @classmethod
    def from_manifests(cls, paths, **kwargs):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        return cls(objects=load_manifests(paths), **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def start(self):
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

    async def _start_site(self, sock):
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        return runner

    async def _shutdown(self, runner):
        for ws in list(self._websockets):
            await ws.close()
        await runner.cleanup()

    def stop(self):
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve_forever(self):
        """Block until stop() is called from another thread (used by the CLI)."""
        self.start()
        self._thread.join()

    def write_kubeconfig(self, path, context="emulator"):
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

    # ------------------------------------------------------------------ object manipulation
    def serve(self, group, version, resource, kind, namespaced, *, same_as=None, preferred=False, **extra):
        """Serve a resource at one more group/version. ``same_as`` ("deployments.apps") serves
        that resource's objects under this name too (reads answer with this apiVersion);
        ``preferred`` makes ``version`` its group's preferred version in discovery."""
        entry = {"group": group, "version": version, "resource": resource, "kind": kind}
        entry.update(namespaced=namespaced, sameAs=same_as, preferred=preferred, **extra)
        with self.store.lock:
            self.store.serve(entry)

    def add(self, obj):
        """Add or replace an object (CRDs register their resources)."""
        return self.store.add(obj)

    def delete(self, group_resource, namespace, name):
        """Delete by 'pods' / 'deployments.apps' / ('apps', 'deployments'); returns the object or None."""
        info = self.store.resolve(group_resource)
        if info is None:
            raise KeyError(f"unknown resource {group_resource!r}")
        return self.store.delete(info, namespace or "", name)

    def get(self, group_resource, namespace, name):
        info = self.store.resolve(group_resource)
        entry = self.store.get(info, namespace or "", name) if info else None
        return entry.obj if entry else None

    def objects(self):
        return self.store.all_objects()

    # ------------------------------------------------------------------ fault injection
    def set_latency(self, seconds, resource=None):
        """Delay every request (resource None) or those for one plural resource; a specific one wins."""
        with self._lock:
            if seconds:
                self._latency[resource] = float(seconds)
            else:
                self._latency.pop(resource, None)

    def fail(self, status=500, resource=None, namespace=None, times=None, verb=None, skip=0):
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

    def clear_faults(self):
        """Remove every injected fault and all latency; reset the snapshot controller's behaviour."""
        with self._lock:
            self._faults.clear()
            self._latency.clear()
        self.snapshots.reset()

    def set_snapshot_behaviour(self, delay=0.0, fail=False, never_ready=False):
        """How the simulated CSI snapshot controller answers VolumeSnapshots created from now on:
        bind after ``delay`` seconds, set ``status.error`` (``fail``) or never bind (``never_ready``)."""
        self.snapshots.configure(delay=delay, fail=fail, never_ready=never_ready)

    def script_exec(
        self, namespace, pod, container=None, stdout="", stderr="", exit_code=0, delay=0.0, match=None
    ):
        """Script the result of exec in a pod (container None = any; match = substring of the command)."""
        with self._lock:
            self._scripts[(namespace, pod, container, match)] = {
                "stdout": stdout,
                "stderr": stderr,
                "exit_code": int(exit_code),
                "delay": float(delay),
            }

    def clear_exec_scripts(self):
        with self._lock:
            self._scripts.clear()

    def _find_script(self, namespace, pod, container, command):
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

    def _take_fault(self, verb, resource, namespace):
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

    def _latency_for(self, resource):
        with self._lock:
            if resource in self._latency:
                return self._latency[resource]
            return self._latency.get(None, 0.0)

    # ------------------------------------------------------------------ HTTP
    async def _handle(self, request):
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

    async def _discovery(self, request, body):
        self.requests[("discovery", None)] += 1
        delay = self._latency_for(None)
        if delay:
            await asyncio.sleep(delay)
        code = self._take_fault("discovery", None, None)
        if code:
            return self._fault_response(code, "discovery", None, None)
        if body is None:
            return status_response(404, _NOT_FOUND_MSG)
        return web.json_response(body)

    def _group_list(self):
        groups = []
        for group in self.store.groups:
            if group:
                groups.append(self._api_group(group, with_kind=False))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _api_group(self, group, with_kind=True):
        versions = self.store.groups[group]
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        d = {"name": group, "versions": gvs, "preferredVersion": gvs[0]}
        if with_kind:
            d = {"kind": "APIGroup", "apiVersion": "v1", **d}
        return d

    def _resource_list(self, group, version):
        resources = []
        for (g, v, _r), info in sorted(self.store.by_version.items()):
            if g != group or v != version:
                continue
            d = {
                "name": info.resource,
                "singularName": info.singular,
                "namespaced": info.namespaced,
                "kind": info.kind,
                "verbs": info.verbs,
            }
            if info.short_names:
                d["shortNames"] = info.short_names
            if info.categories:
                d["categories"] = info.categories
            resources.append(d)
            for sub, kind, verbs in info.subresources.get(version, []):
                sd = {
                    "name": f"{info.resource}/{sub}",
                    "singularName": "",
                    "namespaced": info.namespaced,
                    "kind": kind,
                    "verbs": verbs,
                }
                if kind == "Scale":
                    sd["group"], sd["version"] = "autoscaling", "v1"
                resources.append(sd)
        resources.sort(key=lambda d: d["name"])
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _fault_response(self, code, verb, info, namespace):
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

    async def _resource_request(self, request, group, version, rest):
        ns = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        if len(rest) > 3:
            return status_response(404, _NOT_FOUND_MSG)
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        info = self.store.by_version.get((group, version, resource))
        if (
            info is None
            or (ns is not None and not info.namespaced)
            or (ns is None and name is not None and info.namespaced)
        ):
            return status_response(404, _NOT_FOUND_MSG)
        if sub is not None and sub not in {s for s, _k, _v in info.subresources.get(version, [])}:
            return status_response(404, _NOT_FOUND_MSG)
        method = request.method
        if sub == "exec" and method in ("GET", "POST"):
            verb = "exec"
        elif sub == "log" and method == "GET":
            verb = "log"
        elif method == "GET":
            if name is None:
                verb = "watch" if request.query.get("watch") in ("true", "1") else "list"
            else:
                verb = "get"
        elif method == "POST" and name is None:
            verb = "create"
        elif method == "DELETE" and name is not None:
            verb = "delete"
        elif method == "PUT" and name is not None:
            verb = "update"
        elif method == "PATCH" and name is not None:
            verb = "patch"
        else:
            return status_response(405, "the server does not allow this method on the requested resource")
        self.requests[(verb, resource)] += 1
        delay = self._latency_for(resource)
        if delay:
            await asyncio.sleep(delay)
        code = self._take_fault(verb, resource, ns)
        if code:
            return self._fault_response(code, verb, info, ns)
        api_version = f"{group}/{version}" if group else version
        try:
            if verb == "list":
                return self._list(request, info, ns, api_version)
            if verb == "watch":
                return status_response(405, "watch is not supported by the emulator", "MethodNotAllowed")
            if verb == "get":
                return self._get(info, ns, name, api_version)
            if verb == "exec":
                return await self._exec(request, ns, name)
            if verb == "log":
                if self.store.get(info, ns, name) is None:
                    return self._not_found(info, name)
                return web.Response(text="", content_type="text/plain")
            if verb == "create":
                return await self._create(request, info, ns, api_version)
            if verb == "delete":
                obj = self.store.delete(info, ns, name)
                if obj is None:
                    return self._not_found(info, name)
                self.snapshots.on_deleted(info, obj)
                return web.json_response(obj)
            return await self._update(request, info, ns, name, sub, patch=(verb == "patch"))
        except (SelectorError, InvalidSelector) as e:
            return status_response(400, str(e))

    def _not_found(self, info, name):
        details = {"name": name, "kind": info.resource}
        if info.group:
            details["group"] = info.group
        return status_response(404, f'{_gr(info)} "{name}" not found', details=details)

    def _get(self, info, ns, name, api_version):
        entry = self.store.get(info, ns, name)
        if entry is None:
            return self._not_found(info, name)
        obj = entry.obj
        if obj.get("apiVersion") != api_version:  # the API server converts to the version asked for
            obj = {**obj, "apiVersion": api_version}
        return web.json_response(obj)

    def _list(self, request, info, ns, api_version):
        q = request.query
        selector = parse_selector(q.get("labelSelector"))
        field_reqs = parse_field_selector(q.get("fieldSelector"), info.resource)
        predicate = None
        if selector.requirements or field_reqs:

            def predicate(entry):
                return (not selector.requirements or selector.matches(entry.labels)) and (
                    not field_reqs or match_fields(field_reqs, entry.obj)
                )

        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            return status_response(400, f"invalid limit: {q.get('limit')!r}")
        token = q.get("continue")
        start_after = None
        with self.store.lock:
            rv = self.store.rv
            if token:
                try:
                    rv, start_after = decode_continue(token)
                except ValueError as e:
                    return status_response(400, f"continue key is not valid: {e}")
                if ns is not None and start_after[0] != ns:
                    return status_response(
                        400,
                        "continue key is not valid: incorrect encoded start "
                        "resourceVersion (version meta.k8s.io/v1)",
                    )
            store = self.store.stores[info.storage]
            entries, last, remaining = store.page(
                ns if info.namespaced else None, start_after, limit, predicate
            )
            items = b",".join([e.item_json for e in entries])
        meta = {"resourceVersion": str(rv)}
        if limit and remaining > 0 and last is not None:
            meta["continue"] = encode_continue(rv, last)
            if predicate is None:
                meta["remainingItemCount"] = remaining
        body = b'{"kind":"%s","apiVersion":"%s","metadata":%s,"items":[%s]}' % (
            f"{info.kind}List".encode(),
            api_version.encode(),
            json.dumps(meta).encode(),
            items,
        )
        return web.Response(body=body, content_type="application/json")

    async def _read_body(self, request):
        try:
            body = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = await request.text()
            try:
                body = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ValueError("the request body is not valid JSON or YAML") from None
        if not isinstance(body, dict):
            raise ValueError("the request body must be an object")
        return body

    async def _create(self, request, info, ns, api_version):
        try:
            body = await self._read_body(request)
        except ValueError as e:
            return status_response(400, str(e))
        if not body.get("kind"):
            return status_response(400, f"Object 'Kind' is missing in '{json.dumps(body)[:200]}'")
        if body.get("kind") != info.kind:
            return status_response(
                400,
                f"the API version in the data ({body.get('apiVersion')}) does not match "
                f"the expected kind {info.kind} for this resource",
            )
        body.setdefault("apiVersion", api_version)
        meta = dict(body.get("metadata") or {})
        body["metadata"] = meta
        if info.namespaced:
            if ns is None:
                return status_response(404, _NOT_FOUND_MSG)
            if meta.get("namespace") and meta["namespace"] != ns:
                return status_response(
                    400,
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = ns
            ns_info = self.store.resources.get(("", "namespaces"))
            if ns_info is not None and self.store.get(ns_info, "", ns) is None:
                return status_response(
                    404, f'namespaces "{ns}" not found', details={"name": ns, "kind": "namespaces"}
                )
        if not meta.get("name"):
            if not meta.get("generateName"):
                return status_response(
                    422,
                    f'{info.kind}.{info.group or "core"} "" is invalid: metadata.name: '
                    "Required value: name or generateName is required",
                    "Invalid",
                )
            meta["name"] = meta["generateName"] + "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
        for k in ("uid", "resourceVersion", "creationTimestamp"):
            meta.pop(k, None)
        with self.store.lock:
            if self.store.get(info, ns, meta["name"]) is not None:
                return status_response(
                    409,
                    f'{_gr(info)} "{meta["name"]}" already exists',
                    "AlreadyExists",
                    details={
                        "name": meta["name"],
                        "kind": info.resource,
                        **({"group": info.group} if info.group else {}),
                    },
                )
            try:
                obj = self.store.add(body)
            except ValueError as e:
                return status_response(400, str(e))
        self.snapshots.on_created(info, obj, asyncio.get_running_loop())
        return web.json_response(obj, status=201)

    async def _update(self, request, info, ns, name, sub, patch):
        try:
            body = await self._read_body(request)
        except ValueError as e:
            return status_response(400, str(e))
        ctype = request.content_type
        if patch and ctype not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return status_response(
                415,
                f"the body of the request was in an unknown format - accepted media "
                f"types include: application/merge-patch+json, "
                f"application/strategic-merge-patch+json (got {ctype})",
            )
        with self.store.lock:
            entry = self.store.get(info, ns, name)
            if entry is None:
                return self._not_found(info, name)
            current = entry.obj
            if patch:
                new = merge_patch(current, {"status": body.get("status")} if sub == "status" else body)
            elif sub == "status":
                new = dict(current, status=body.get("status"))
            else:
                rv = (body.get("metadata") or {}).get("resourceVersion")
                if rv and rv != current["metadata"]["resourceVersion"]:
                    return status_response(
                        409,
                        f'Operation cannot be fulfilled on {_gr(info)} "{name}": the '
                        "object has been modified; please apply your changes to the latest "
                        "version and try again",
                        "Conflict",
                    )
                new = body
            meta = dict(new.get("metadata") or {})
            if meta.get("name", name) != name:
                return status_response(400, "the name of the object does not match the name on the URL")
            meta.update(
                name=name,
                uid=current["metadata"]["uid"],
                creationTimestamp=current["metadata"]["creationTimestamp"],
            )
            if info.namespaced:
                meta["namespace"] = ns
            new = dict(new, metadata=meta, apiVersion=current["apiVersion"], kind=current["kind"])
            obj = self.store.add(new)
        return web.json_response(obj)

    # ------------------------------------------------------------------ exec
    async def _exec(self, request, ns, name):
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

    async def _wait_or_disconnect(self, ws, delay):
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

    # ------------------------------------------------------------------ control endpoint
    async def _control(self, request):
        action = request.path[len("/_emulator/") :].strip("/")
        try:
            body = {}
            if request.method == "POST" and request.can_read_body:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("body must be a JSON object")
            if action == "exec_log" and request.method == "GET":
                return web.json_response(self.exec_log)
            if action == "snapshots" and request.method == "GET":
                return web.json_response(self.snapshots.settings())
            if action == "requests" and request.method == "GET":
                return web.json_response(
                    [
                        {"verb": v, "resource": r, "count": c}
                        for (v, r), c in sorted(self.requests.items(), key=str)
                    ]
                )
            if request.method != "POST":
                return web.json_response({"error": "method not allowed"}, status=405)
            if action == "latency":
                self.set_latency(body.get("seconds", 0), body.get("resource"))
            elif action == "fail":
                keys = ("status", "resource", "namespace", "times", "verb", "skip")
                self.fail(**{k: body[k] for k in keys if k in body})
            elif action == "snapshots":
                self.set_snapshot_behaviour(
                    **{k: body[k] for k in ("delay", "fail", "never_ready") if k in body}
                )
                return web.json_response(self.snapshots.settings())
            elif action == "clear":
                self.clear_faults()
            elif action == "script_exec":
                self.script_exec(**body)
            elif action == "clear_exec_scripts":
                self.clear_exec_scripts()
            elif action == "add":
                return web.json_response(self.add(body))
            elif action == "delete":
                self.delete(body["group_resource"], body.get("namespace"), body["name"])
            else:
                return web.json_response({"error": f"unknown control action {action!r}"}, status=404)
        except (ValueError, TypeError, KeyError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"ok": True})
