"""Building a per-connection ApiClient from a kubeconfig or the in-cluster service account.

Never touches the kubernetes client's global default Configuration: several clusters can be
registered in one process.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from pathlib import Path

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ConfigNode, KubeConfigLoader, KubeConfigMerger

from .errors import KubeConfigError

DEFAULT_KUBECONFIG = "~/.kube/config"


def _kubeconfig_paths(kubeconfig: str | None) -> tuple[str, list[str]]:
    """The value to hand to the loader and the files it names (KUBECONFIG may be a path list)."""
    value = kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    paths = [os.path.expanduser(p) for p in value.split(os.pathsep) if p]
    return value, paths


def load_kubeconfig(kubeconfig: str | None, context: str | None) -> tuple[k8s_client.ApiClient, str]:
    """(ApiClient, context name) for a kubeconfig file and optional context.

    Each file is parsed once, with libyaml where PyYAML has it: every batch job connects, and the
    client's own loader would parse the files twice more in pure Python (about 40 ms a job).
    """
    value, paths = _kubeconfig_paths(kubeconfig)
    if not paths:
        raise KubeConfigError("no kubeconfig given (empty path)")
    existing = [p for p in paths if os.path.isfile(p)]
    if not existing:
        raise KubeConfigError(f"kubeconfig {value!r} not found")
    documents = {path: _read_yaml(path) for path in existing}
    try:
        merged = _ParsedKubeconfigs(existing, documents).config
        loader = KubeConfigLoader(config_dict=merged, config_base_path=None)
        names = [c.get("name") for c in loader.list_contexts() or [] if isinstance(c, dict)]
        current = loader.current_context
    except (ConfigException, ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise KubeConfigError(f"invalid kubeconfig {value!r}: {exc}") from exc
    if context is not None and context not in names:
        known = ", ".join(repr(n) for n in names) or "none"
        raise KubeConfigError(f"context {context!r} not found in kubeconfig {value!r} (contexts: {known})")
    chosen = context if context is not None else (current or {}).get("name")
    if not chosen:
        raise KubeConfigError(f"kubeconfig {value!r} has no current-context; pass a context")
    configuration = new_configuration()
    try:
        loader.set_active_context(chosen)
        loader.load_and_set(configuration)
    except (ConfigException, ValueError, TypeError, KeyError, AttributeError, OSError) as exc:
        raise KubeConfigError(f"invalid kubeconfig {value!r} (context {chosen!r}): {exc}") from exc
    return k8s_client.ApiClient(configuration=configuration), chosen


class _ParsedKubeconfigs(KubeConfigMerger):
    """The client's merge of KUBECONFIG files (first one wins per name, relative certificate paths
    kept per file), fed with documents already parsed."""

    def __init__(self, paths: list[str], documents: dict[str, dict]):
        self._documents = documents
        super().__init__(os.pathsep.join(paths))

    def load_config(self, path):
        config = copy.deepcopy(self._documents[path])
        if self.config_merged is None:
            base = {k: v for k, v in config.items() if k not in ("clusters", "contexts", "users")}
            self.config_merged = ConfigNode(path, {**base, "clusters": [], "contexts": [], "users": []}, path)
        for item in ("clusters", "contexts", "users"):
            self._merge(item, config.get(item, []) or [], path)
        if "current-context" in config:
            self.config_merged.value["current-context"] = config["current-context"]
        self.config_files[path] = config


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"invalid kubeconfig {path!r}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not any(k in doc for k in ("clusters", "contexts", "users")):
        raise KubeConfigError(f"invalid kubeconfig {path!r}: no clusters, contexts or users in it")
    return doc


def load_in_cluster() -> k8s_client.ApiClient:
    configuration = new_configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise KubeConfigError(f"in-cluster configuration unavailable: {exc}") from exc
    return k8s_client.ApiClient(configuration=configuration)


def new_configuration() -> k8s_client.Configuration:
    """A fresh Configuration (never the global default) whose retries cover connection set-up only.

    A read timeout is reported after `request_timeout`, not silently retried three times.
    """
    configuration = k8s_client.Configuration()
    configuration.retries = urllib3.Retry(
        total=3,
        connect=3,
        read=0,
        status=0,
        other=0,
        redirect=3,
        respect_retry_after_header=False,  # 429 is retried by KubeSource, 503 is reported
        raise_on_status=False,
    )
    return configuration


class RateLimiter:
    """Token bucket, like client-go's QPS/burst (Velero runs 100/100). qps <= 0 disables it."""

    def __init__(self, qps: float, burst: int):
        self.qps = float(qps)
        self.burst = max(1, int(burst))
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if self.qps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            time.sleep(wait)


def kubeconfig_server(kubeconfig_path: str, context: str = "") -> str:
    """The API server URL of `context` (else the current one) in a kubeconfig, read without
    contacting the cluster; "" when it cannot be told (no file, not YAML, not a kubeconfig,
    unknown context)."""
    try:
        config = yaml.safe_load(Path(kubeconfig_path).expanduser().read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return ""
    if not isinstance(config, dict):
        return ""
    contexts, clusters = _named(config, "contexts", "context"), _named(config, "clusters", "cluster")
    entry = contexts.get(context or config.get("current-context"), {})
    server = clusters.get(entry.get("cluster"), {}).get("server", "")
    return server if isinstance(server, str) else ""


def _named(config: dict, key: str, body: str) -> dict:
    """A kubeconfig list (`contexts`, `clusters`) as {name: body}, skipping malformed entries."""
    entries = config.get(key)
    if not isinstance(entries, list):
        return {}
    named = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get(body), dict):
            name = entry.get("name")
            if isinstance(name, str):
                named[name] = entry[body]
    return named
