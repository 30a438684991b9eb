"""Objects: get, list (selectors, pages, watch), create, update, patch and delete of any resource."""

from __future__ import annotations

import asyncio
import collections
import json
import random
from typing import Any

import yaml
from aiohttp import web

from backups.engine.planning.label_selectors import InvalidSelector, parse_selector
from backups.engine.restore.modifiers import PatchError, apply_json_patch

from .api_status import _NOT_FOUND_MSG, status_response
from .controllers import WorkloadControllers
from .field_selectors import SelectorError, match_fields, parse_field_selector
from .store import Store, decode_continue, encode_continue


def _gr(info: Any) -> str:
    return f"{info.resource}.{info.group}" if info.group else info.resource


def merge_patch(target: Any, patch: Any) -> Any:
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


class ObjectsMixin:
    """The resource requests of the API, on the emulator's store."""

    store: Store
    requests: collections.Counter
    controllers: WorkloadControllers

    async def _resource_request(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
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

    def _not_found(self, info: Any, name: str) -> web.Response:
        details = {"name": name, "kind": info.resource}
        if info.group:
            details["group"] = info.group
        return status_response(404, f'{_gr(info)} "{name}" not found', details=details)

    def _get(self, info: Any, ns: str | None, name: str, api_version: str) -> web.Response:
        entry = self.store.get(info, ns, name)
        if entry is None:
            return self._not_found(info, name)
        obj = entry.obj
        if obj.get("apiVersion") != api_version:  # the API server converts to the version asked for
            obj = {**obj, "apiVersion": api_version}
        return web.json_response(obj)

    def _list(self, request: web.Request, info: Any, ns: str | None, api_version: str) -> web.StreamResponse:
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

    async def _read_body(self, request: web.Request) -> Any:
        try:
            body = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            text = await request.text()
            try:
                body = yaml.safe_load(text)
            except yaml.YAMLError:
                raise ValueError("the request body is not valid JSON or YAML") from None
        if not isinstance(body, dict) and not (
            isinstance(body, list) and request.content_type == "application/json-patch+json"
        ):
            raise ValueError("the request body must be an object")
        return body

    async def _create(
        self, request: web.Request, info: Any, ns: str | None, api_version: str
    ) -> web.Response:
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
                obj = self.store.add(body, register=not self.controllers.is_crd(info))
            except ValueError as e:
                return status_response(400, str(e))
        loop = asyncio.get_running_loop()
        self.snapshots.on_created(info, obj, loop)
        self.controllers.on_created(info, obj, loop)
        return web.json_response(obj, status=201)

    async def _update(
        self, request: web.Request, info: Any, ns: str | None, name: str, sub: str | None, patch: bool
    ) -> web.Response:
        try:
            body = await self._read_body(request)
        except ValueError as e:
            return status_response(400, str(e))
        ctype = request.content_type
        if patch and ctype not in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/json-patch+json",
        ):
            return status_response(
                415,
                f"the body of the request was in an unknown format - accepted media "
                f"types include: application/json-patch+json, application/merge-patch+json, "
                f"application/strategic-merge-patch+json (got {ctype})",
            )
        with self.store.lock:
            entry = self.store.get(info, ns, name)
            if entry is None:
                return self._not_found(info, name)
            current = entry.obj
            if patch and isinstance(body, list):
                try:
                    patched = apply_json_patch(current, body)
                except PatchError as e:
                    return status_response(422, f"the JSON patch cannot be applied: {e}", "Invalid")
                new = dict(current, status=patched.get("status")) if sub == "status" else patched
            elif patch:
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
