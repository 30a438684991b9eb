"""KubeSource: the engine's Source protocol over a live API server, as raw JSON dicts."""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import quote

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import SourceError

from .connection import RateLimiter, load_in_cluster, load_kubeconfig
from .discovery import discover
from .errors import http_error, parse_status, transport_error
from .execution import ExecClients, ExecResult

MAX_429_RETRIES = 3
MAX_RETRY_AFTER = 10.0
_NOT_SERVED = "the server could not find the requested resource"
_PATCH_TYPES = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)


class KubeSource:
    """One connection to one cluster. Thread-safe: list/get may run from several threads."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        context: str | None = None,
        page_size: int = 500,
        request_timeout: float = 30.0,
        qps: float = 100.0,
        burst: int = 100,
    ):
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        if request_timeout <= 0:
            raise ValueError(f"request_timeout must be positive, got {request_timeout}")
        self.api_client = api_client
        self.configuration = api_client.configuration
        self.server_url: str = self.configuration.host
        self.context = context
        self.page_size = page_size
        self.request_timeout = request_timeout
        self.warnings: list[str] = []
        self._limiter = RateLimiter(qps, burst)
        self._table: ResourceTable | None = None
        self._table_lock = threading.Lock()
        self._exec = ExecClients(self.configuration)
        self._pages = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kube-page")

    def __repr__(self) -> str:
        return f"<KubeSource {self.server_url} context={self.context!r}>"

    # ------------------------------------------------------------------ HTTP

    def _request(
        self,
        path: str,
        query: list[tuple[str, str]] | None,
        resource: str,
        namespace: str | None,
        *,
        method: str = "GET",
        body: dict | builtins.list | None = None,
        content_type: str = "application/json",
    ):
        """METHOD path -> (status, body bytes, reason). Transport failures raise SourceError.

        A request failing on a stale pooled connection is resent once, except POST (not idempotent:
        like Go's net/http, a create is never replayed).
        """
        header_params = {"Accept": "application/json"}
        if body is not None:
            header_params["Content-Type"] = content_type
        method, url, headers, payload, _post = self.api_client.param_serialize(
            method,
            path,
            query_params=query or None,
            header_params=header_params,
            body=body,
            auth_settings=["BearerToken"],
        )
        stale_retry = method != "POST"
        throttled = 0
        while True:
            self._limiter.acquire()
            try:
                response = self.api_client.call_api(
                    method,
                    url,
                    header_params=dict(headers),
                    body=payload,
                    _request_timeout=self.request_timeout,
                ).response
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if stale_retry and _is_stale_connection(exc):
                    stale_retry = False  # a pooled keep-alive connection the server had closed
                    continue
                raise transport_error(
                    exc, url=url, timeout=self.request_timeout, resource=resource, namespace=namespace
                ) from exc
            except ApiException as exc:  # TLS errors are raised as ApiException(status=0)
                raise SourceError(
                    f"cannot reach the API server at {self.server_url}: {exc.reason}",
                    resource=resource,
                    namespace=namespace or "",
                ) from exc
            try:
                data = response.data  # reads the whole body (one page)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                response.close()
                raise transport_error(
                    exc, url=url, timeout=self.request_timeout, resource=resource, namespace=namespace
                ) from exc
            response.release_conn()
            if response.status == 429 and throttled < MAX_429_RETRIES:
                throttled += 1
                time.sleep(_retry_after(response.headers.get("Retry-After"), throttled))
                continue
            return response.status, data, response.reason

    def _json(self, data: bytes, path: str, resource: str, namespace: str | None) -> dict:
        try:
            doc = orjson.loads(data)
        except ValueError as exc:
            raise SourceError(
                f"invalid JSON from {path}: {exc}", resource=resource, namespace=namespace or ""
            ) from exc
        if not isinstance(doc, dict):
            raise SourceError(f"unexpected answer from {path}", resource=resource, namespace=namespace or "")
        return doc

    # ------------------------------------------------------------- discovery

    def _fetch_discovery(self, path: str) -> dict:
        status, data, reason = self._request(path, None, path, None)
        if not 200 <= status < 300:
            raise http_error(status, data, reason=reason, resource=path)
        return self._json(data, path, path, None)

    def resources(self) -> ResourceTable:
        with self._table_lock:
            if self._table is None:
                warnings: list[str] = []
                self._table = discover(self._fetch_discovery, warnings)
                self.warnings.extend(warnings)
            return self._table

    def refresh(self) -> ResourceTable:
        """Forget the cached discovery (after CRDs were installed) and run it again."""
        with self._table_lock:
            self._table = None
        return self.resources()

    # ----------------------------------------------------------------- reads

    @staticmethod
    def _base_path(resource: ResourceInfo, namespace: str | None) -> str:
        if resource.group:
            prefix = f"/apis/{resource.group}/{resource.version}"
        else:
            prefix = f"/api/{resource.version}"
        if namespace and resource.namespaced:
            prefix += f"/namespaces/{quote(namespace, safe='')}"
        return f"{prefix}/{resource.resource}"

    def list(
        self, resource: ResourceInfo, namespace: str | None = None, label_selector: str | None = None
    ) -> Iterator[dict]:
        """Every object, page by page (`limit`/`continue`), with apiVersion and kind set.

        At most two pages are held at a time: the next is requested as the caller starts on one,
        so the server prepares it meanwhile (the API server and the dispatcher would otherwise
        wait on each other). When a continue token expires mid-list (HTTP 410), the listing goes
        on with the server's fresh token, as the server offers (the rest of the list may then not
        be a consistent snapshot; a warning is recorded); without one it is a SourceError.
        """
        if namespace and not resource.namespaced:
            raise ValueError(f"{resource.group_resource} is cluster-scoped: list it with namespace=None")
        return self._list(resource, namespace or None, label_selector or None)

    def _list(
        self, resource: ResourceInfo, namespace: str | None, label_selector: str | None
    ) -> Iterator[dict]:
        path = self._base_path(resource, namespace)
        gr = resource.group_resource
        api_version, kind = resource.api_version, resource.kind
        token: str | None = None
        count = 0
        ahead: Future | None = None  # the next page, requested while this one is handed out

        def query_for(token):
            query = [("limit", str(self.page_size))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            return query

        while True:
            if ahead is not None:
                status, data, reason = ahead.result()
                ahead = None
            else:
                status, data, reason = self._request(path, query_for(token), gr, namespace)
            if status == 410 and token:
                fresh = ((parse_status(data) or {}).get("metadata") or {}).get("continue")
                if fresh:
                    self.warnings.append(
                        f"{gr}{' in namespace ' + namespace if namespace else ''}: continue token expired "
                        f"after {count} objects; the rest of the list may not be a consistent snapshot"
                    )
                    token = fresh
                    continue
                raise http_error(
                    status,
                    data,
                    reason=reason,
                    resource=gr,
                    namespace=namespace,
                    extra=f"continue token expired after {count} objects and the server offered no "
                    "new one; the list must be restarted",
                )
            if not 200 <= status < 300:
                extra = f"label selector {label_selector!r}" if label_selector and status == 400 else ""
                raise http_error(status, data, reason=reason, resource=gr, namespace=namespace, extra=extra)
            doc = self._json(data, path, gr, namespace)
            del data
            items = doc.get("items") or []
            token = (doc.get("metadata") or {}).get("continue") or None
            del doc
            if token:  # the server prepares the next page while the caller works through this one
                ahead = self._pages.submit(self._request, path, query_for(token), gr, namespace)
            for item in items:
                if "kind" not in item or "apiVersion" not in item:
                    item = {"apiVersion": api_version, "kind": kind, **item}
                count += 1
                yield item
            del items
            if not token:
                return

    def get(self, resource: ResourceInfo, namespace: str | None, name: str) -> dict | None:
        if not name:
            raise ValueError("get needs a name")
        namespace = namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ValueError(f"{resource.group_resource} is namespaced: get needs a namespace")
        path = f"{self._base_path(resource, namespace)}/{quote(name, safe='')}"
        gr = resource.group_resource
        status, data, reason = self._request(path, None, gr, namespace)
        if status == 404:
            doc = parse_status(data) or {}
            if str(doc.get("message", "")).strip() == _NOT_SERVED:
                raise http_error(status, data, reason=reason, resource=gr, namespace=namespace)
            return None
        if not 200 <= status < 300:
            raise http_error(status, data, reason=reason, resource=gr, namespace=namespace)
        item = self._json(data, path, gr, namespace)
        if "kind" not in item or "apiVersion" not in item:
            item = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
        return item

    # ---------------------------------------------------------------- writes

    def create(self, resource: ResourceInfo, namespace: str | None, obj: dict) -> dict:
        """POST a raw JSON object; returns the created object (server-set name, uid, ...).

        `metadata.generateName` is honoured by the server. An existing object is a SourceError
        with status 409 (AlreadyExists); every other failure is a SourceError naming the resource,
        namespace and object name.
        """
        if not isinstance(obj, dict):
            raise TypeError(f"create needs a dict, got {type(obj).__name__}")
        namespace = namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ValueError(f"{resource.group_resource} is namespaced: create needs a namespace")
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **obj}
        meta = body.get("metadata") or {}
        name = meta.get("name") or (f"{meta['generateName']}*" if meta.get("generateName") else "")
        path = self._base_path(resource, namespace)
        gr = resource.group_resource
        status, data, reason = self._request(path, None, gr, namespace, method="POST", body=body)
        if not 200 <= status < 300:
            raise http_error(
                status, data, reason=reason, resource=gr, namespace=namespace, extra=_named(name)
            )
        item = self._json(data, path, gr, namespace)
        if "kind" not in item or "apiVersion" not in item:
            item = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
        return item

    def patch(
        self,
        resource: ResourceInfo,
        namespace: str | None,
        name: str,
        patch: dict | builtins.list,
        *,
        patch_type: str = "application/merge-patch+json",
        subresource: str | None = None,
    ) -> dict:
        """PATCH one object (or its `status`/`scale` subresource) with a merge, strategic merge or
        JSON patch (`patch_type` is the content type); returns the object as stored. A missing
        object is a SourceError with status 404, naming it."""
        if not name:
            raise ValueError("patch needs a name")
        if patch_type not in _PATCH_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}: use one of {', '.join(_PATCH_TYPES)}")
        if patch_type == "application/json-patch+json" and not isinstance(patch, list):
            raise TypeError("a JSON patch is a list of operations")
        namespace = namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ValueError(f"{resource.group_resource} is namespaced: patch needs a namespace")
        path = f"{self._base_path(resource, namespace)}/{quote(name, safe='')}"
        if subresource:
            path += f"/{quote(subresource, safe='')}"
        gr = resource.group_resource
        status, data, reason = self._request(
            path, None, gr, namespace, method="PATCH", body=patch, content_type=patch_type
        )
        if not 200 <= status < 300:
            raise http_error(
                status, data, reason=reason, resource=gr, namespace=namespace, extra=_named(name)
            )
        item = self._json(data, path, gr, namespace)
        if "kind" not in item or "apiVersion" not in item:
            item = {"apiVersion": resource.api_version, "kind": resource.kind, **item}
        return item

    def delete(self, resource: ResourceInfo, namespace: str | None, name: str) -> bool:
        """DELETE one object: True when deleted, False when it did not exist (404)."""
        if not name:
            raise ValueError("delete needs a name")
        namespace = namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise ValueError(f"{resource.group_resource} is namespaced: delete needs a namespace")
        path = f"{self._base_path(resource, namespace)}/{quote(name, safe='')}"
        gr = resource.group_resource
        status, data, reason = self._request(path, None, gr, namespace, method="DELETE")
        if status == 404:
            doc = parse_status(data) or {}
            if str(doc.get("message", "")).strip() != _NOT_SERVED:
                return False
        if not 200 <= status < 300:
            raise http_error(
                status, data, reason=reason, resource=gr, namespace=namespace, extra=_named(name)
            )
        return True

    # ------------------------------------------------------------------ exec

    def exec(
        self, namespace: str, pod: str, container: str | None, command: Sequence[str], timeout: float
    ) -> ExecResult:
        """Run a command in a container (hooks). Never raises for remote failures: see ExecResult.error."""
        return self._exec.run(namespace, pod, container, command, timeout)

    def close(self) -> None:
        self._pages.shutdown(wait=True, cancel_futures=True)
        self._exec.close()
        self.api_client.close()

    def __enter__(self) -> KubeSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _named(name: str) -> str:
    return f"name {name!r}" if name else ""


def _is_stale_connection(exc: BaseException) -> bool:
    reason = getattr(exc, "reason", None) or exc
    return isinstance(reason, urllib3.exceptions.ProtocolError) and not isinstance(
        reason, urllib3.exceptions.TimeoutError
    )


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        seconds = float(header) if header else float(attempt)
    except ValueError:
        seconds = float(attempt)
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    page_size: int = 500,
    request_timeout: float = 30.0,
    *,
    qps: float = 100.0,
    burst: int = 100,
) -> KubeSource:
    """A KubeSource for a kubeconfig (path, optional context) or the in-cluster service account.

    Each connection has its own ApiClient and Configuration. Nothing is requested yet: the first
    `resources()` call runs discovery. Raises KubeConfigError (a SourceError and a ValueError).
    """
    if in_cluster:
        if kubeconfig is not None or context is not None:
            raise ValueError("in_cluster=True cannot be combined with a kubeconfig or context")
        api_client, context_name = load_in_cluster(), None
    else:
        api_client, context_name = load_kubeconfig(kubeconfig, context)
    return KubeSource(
        api_client,
        context=context_name,
        page_size=page_size,
        request_timeout=request_timeout,
        qps=qps,
        burst=burst,
    )
