"""Discovery: `/version`, `/api`, `/apis` and each group version's resource list."""

from __future__ import annotations

import asyncio
import collections

from aiohttp import web

from .api_status import _NOT_FOUND_MSG, status_response
from .store import Store

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


class DiscoveryMixin:
    """Discovery documents of the emulator's store (`KubeEmulator.store`)."""

    store: Store
    requests: collections.Counter
    host: str
    port: int

    async def _discovery(self, request: web.Request, body: dict | None) -> web.Response:
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

    def _group_list(self) -> dict:
        groups = []
        for group in self.store.groups:
            if group:
                groups.append(self._api_group(group, with_kind=False))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _api_group(self, group: str, with_kind: bool = True) -> dict:
        versions = self.store.groups[group]
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        d = {"name": group, "versions": gvs, "preferredVersion": gvs[0]}
        if with_kind:
            d = {"kind": "APIGroup", "apiVersion": "v1", **d}
        return d

    def _resource_list(self, group: str, version: str) -> dict:
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
