"""A Source read from manifests: a `kubectl get -A -o yaml` dump, YAML/JSON files or a folder of them.

Offline mode runs the engine on exactly what a cluster would list, so the preview of blocks can be
computed without a cluster. Objects are indexed per resource in (namespace, name) order, the order
the API server lists them in, with the namespace ranges remembered so a per-namespace list or a get
touches only that namespace's slice.

Input is untrusted. A file that cannot be read (invalid YAML/JSON, nesting deeper than MAX_DEPTH, a
YAML alias bomb) is a ManifestError naming it; an object that the API server would refuse (wrong
field types, a kind or version discovery does not serve) is a warning naming the file and the
object, and is skipped while the rest loads. Files become documents in `documents`; documents become
checked objects in `object_checks`.
"""

from __future__ import annotations

import gc
import logging
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from backups.engine.planning.label_selectors import InvalidSelector, Selector, parse_selector
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import SourceError

from .builtin_discovery import builtin_resource_table, builtin_served_kinds
from .documents import ManifestError, manifest_files, read_documents
from .object_checks import (
    CRD_GROUP,
    Warn,
    checked_objects,
    crd_versions,
    object_label,
    object_problem,
)

CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


_log = logging.getLogger(__name__)


def _log_warning(message: str) -> None:
    _log.warning("%s", message)


def _sort_key(obj: dict) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


class _ResourceIndex:
    """The objects of one resource sorted by (namespace, name), and each namespace's slice of them."""

    __slots__ = ("objects", "namespaces")

    def __init__(self, objects: list[dict]):
        objects.sort(key=_sort_key)
        self.objects = objects
        self.namespaces: dict[str, tuple[int, int]] = {}
        start = 0
        for namespace, group in groupby(objects, key=lambda o: o["metadata"].get("namespace") or ""):
            end = start + sum(1 for _ in group)
            self.namespaces[namespace] = (start, end)
            start = end

    def span(self, namespace: str | None) -> tuple[int, int]:
        if namespace is None:
            return 0, len(self.objects)
        return self.namespaces.get(namespace, (0, 0))

    def get(self, namespace: str, name: str) -> dict | None:
        lo, hi = self.span(namespace)
        i = bisect_left(self.objects, (namespace, name), lo, hi, key=_sort_key)
        if i < hi and _sort_key(self.objects[i]) == (namespace, name):
            return self.objects[i]
        return None


class ManifestSource:
    """The Source protocol over objects already in memory.

    Objects are returned as stored, not copied (a 300k-object dump is not duplicated): callers must
    not modify them. An object given twice (same resource, namespace and name) keeps the last copy.
    A namespaced object without a namespace is in "default". With `add_missing_namespaces`, every
    namespace that holds objects exists, as in a real cluster: a Namespace missing from the input is
    added (Active, no labels), so hand-written manifests work with namespace filters. Objects the API
    server would refuse are skipped, each with a call to `warn` (default: logged).
    """

    def __init__(
        self,
        objects: Iterable[dict],
        origin: str = "<objects>",
        *,
        add_missing_namespaces=False,
        warn: Warn | None = None,
    ):
        loader = _Loader(warn or _log_warning)
        loader.add_all(objects, origin)
        self._table, self._index = loader.build(add_missing_namespaces)
        self._selectors: dict[str, Selector] = {}

    @classmethod
    def _from_loader(cls, loader: _Loader, add_missing_namespaces: bool) -> ManifestSource:
        source = cls.__new__(cls)
        source._table, source._index = loader.build(add_missing_namespaces)
        source._selectors = {}
        return source

    def resources(self) -> ResourceTable:
        return self._table

    def list(
        self, resource: ResourceInfo, namespace: str | None = None, label_selector: str | None = None
    ) -> Iterator[dict]:
        index = self._index.get(resource.group_resource)
        if index is None:
            return iter(())
        if not resource.namespaced or namespace == "":
            namespace = None
        lo, hi = index.span(namespace)
        objects = index.objects[lo:hi] if (lo, hi) != (0, len(index.objects)) else index.objects
        if not label_selector:
            return iter(objects)
        selector = self._selector(label_selector, resource, namespace)
        return (o for o in objects if selector.matches(o["metadata"].get("labels")))

    def get(self, resource: ResourceInfo, namespace: str | None, name: str) -> dict | None:
        index = self._index.get(resource.group_resource)
        if index is None:
            return None
        return index.get((namespace or "") if resource.namespaced else "", name)

    def __len__(self) -> int:
        return sum(len(index.objects) for index in self._index.values())

    def _selector(self, text: str, resource: ResourceInfo, namespace: str | None) -> Selector:
        selector = self._selectors.get(text)
        if selector is None:
            try:
                selector = parse_selector(text)
            except InvalidSelector as exc:
                # What the API server answers to a bad labelSelector parameter.
                raise SourceError(
                    str(exc), resource=resource.group_resource, namespace=namespace or "", status=400
                ) from exc
            self._selectors[text] = selector
        return selector


def load_manifests(
    path_or_paths: str | Path | Iterable[str | Path],
    *,
    add_missing_namespaces: bool = False,
    warn: Warn | None = None,
) -> ManifestSource:
    """Read YAML/JSON files, or folders of them (recursively, `*.yaml`, `*.yml`, `*.json`, sorted).

    Multi-document YAML and `List`/`*List` objects (a `kubectl get -A -o yaml` dump) are expanded.
    CustomResourceDefinitions in the input make their resources known. Raises ManifestError naming
    the file for unreadable input, invalid YAML/JSON, nesting deeper than MAX_DEPTH and YAML alias
    bombs. An object the API server would refuse (not a mapping, fields of the wrong type, a kind
    and apiVersion that neither the built-ins nor a CRD of the input serve) is skipped with a call
    to `warn` (default: logged) naming the file and the object.
    `add_missing_namespaces`: see ManifestSource.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    if not paths:
        raise ManifestError("no manifest paths given")
    warn = warn or _log_warning
    loader = _Loader(warn)
    collecting = gc.isenabled()
    gc.disable()  # millions of new dicts and strings, no cycles: the collector would only rescan them
    try:
        for path in manifest_files(paths):
            loader.add_documents(read_documents(path), str(path))
        return ManifestSource._from_loader(loader, add_missing_namespaces)
    finally:
        if collecting:
            gc.enable()


def read_objects(
    path_or_paths: str | Path | Iterable[str | Path], *, warn: Warn | None = None
) -> Iterator[dict]:
    """The Kubernetes objects in YAML/JSON files or folders, as plain dicts, in file order.

    Files and folders as for `load_manifests` (folders recursively, `*.yaml`, `*.yml`, `*.json`,
    sorted); multi-document YAML and `List`/`*List` objects are expanded. Each object is checked as
    `load_manifests` checks it (one that fails is skipped with a call to `warn`); kinds are not
    resolved (see `served_objects`) and nothing is deduplicated. Raises ManifestError naming the
    file for missing paths, unreadable or invalid input.
    """
    warn = warn or _log_warning
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    for path in manifest_files(paths):
        origin = str(path)
        for number, document in read_documents(path):
            yield from checked_objects(document, f"document {number}", origin, warn)


def served_objects(objects: Iterable[dict], warn: Warn | None = None) -> list[dict]:
    """The objects whose apiVersion and kind are served, by the built-ins or by a CRD among them;
    each other apiVersion and kind is one call to `warn`, and its objects are left out."""
    objects = list(objects)
    served = builtin_served_kinds()
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition" and obj["apiVersion"].startswith(CRD_GROUP + "/"):
            served |= _crd_served_kinds(obj)
    unserved: dict[tuple[str, str], list[dict]] = {}
    kept = []
    for obj in objects:
        key = (obj["apiVersion"], obj["kind"])
        if key in served:
            kept.append(obj)
        else:
            unserved.setdefault(key, []).append(obj)
    for (api_version, kind), skipped in unserved.items():
        first = object_label(skipped[0])
        (warn or _log_warning)(_unserved_message(api_version, kind, len(skipped), first=first))
    return kept


def _unserved_message(api_version: str, kind: str, count: int, origin: str = "", first: str = "") -> str:
    where = f"{origin}: " if origin else ""
    which = (first or kind) + (f" and {count - 1} more {kind}" if count > 1 else "")
    return (
        f"{where}{which}: apiVersion {api_version!r} kind {kind!r} is not served (not a built-in resource "
        "at that version, and no CustomResourceDefinition in the input defines it); skipped"
    )


class _Loader:
    """Collects objects, expands lists, learns CRDs, then resolves kinds and builds the indexes."""

    def __init__(self, warn: Warn) -> None:
        # (apiVersion, kind) -> {(namespace, name): object}; first origin seen, for messages
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._origins: dict[tuple[str, str], str] = {}
        self._crds: list[ResourceInfo] = []
        self._served = builtin_served_kinds()
        self._warn = warn

    def add_documents(self, documents: Iterable[tuple[int, object]], origin: str) -> None:
        for number, document in documents:
            for obj in checked_objects(document, f"document {number}", origin, self._warn):
                self._add(obj, origin)

    def add_all(self, objects: Iterable[dict], origin: str) -> None:
        for number, obj in enumerate(objects, start=1):
            if type(obj) is dict and object_problem(obj) is None:  # the common case, without a generator
                self._add(obj, origin)
            else:
                for checked in checked_objects(obj, f"object {number}", origin, self._warn):
                    self._add(checked, origin)

    def _add(self, obj: dict, origin: str) -> None:
        api_version, kind, metadata = obj["apiVersion"], obj["kind"], obj["metadata"]
        if kind == "CustomResourceDefinition" and api_version.startswith(CRD_GROUP + "/"):
            self._crds.append(_crd_resource(obj))
            self._served |= _crd_served_kinds(obj)
        key = (api_version, kind)
        objects = self._objects.get(key)
        if objects is None:
            objects = self._objects[key] = {}
            self._origins[key] = origin
        objects[(metadata.get("namespace") or "", metadata["name"])] = obj

    def build(self, add_missing_namespaces: bool) -> tuple[ResourceTable, dict[str, _ResourceIndex]]:
        table = builtin_resource_table()
        crds = sorted(
            {c.group_resource: c for c in reversed(self._crds)}.values(), key=lambda c: (c.group, c.resource)
        )
        table = table.extended(crds)
        grouped: dict[str, dict[tuple[str, str], dict]] = {}
        for (api_version, kind), objects in self._objects.items():
            info = table.by_kind(api_version, kind) if (api_version, kind) in self._served else None
            if info is None:
                first = object_label(next(iter(objects.values())))
                origin = self._origins[(api_version, kind)]
                self._warn(_unserved_message(api_version, kind, len(objects), origin, first))
                continue
            bucket = grouped.setdefault(info.group_resource, {})
            for obj in objects.values():
                metadata = obj["metadata"]
                if not info.namespaced:
                    metadata.pop("namespace", None)  # the API server ignores it too
                elif not metadata.get("namespace"):
                    metadata["namespace"] = "default"  # kubectl apply's rule for a namespaced object
                bucket[_sort_key(obj)] = obj
        self._objects.clear()
        namespaces = grouped.setdefault("namespaces", {})
        for gr, objects in grouped.items() if add_missing_namespaces else ():
            info = table.by_group_resource(gr)
            if info is not None and info.namespaced:
                for namespace, _ in objects:
                    namespaces.setdefault(("", namespace), _namespace(namespace))
        return table, {gr: _ResourceIndex(list(objects.values())) for gr, objects in grouped.items()}


def _namespace(name: str) -> dict:
    """The Namespace a cluster must have for objects to live in it, when the input leaves it out."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "status": {"phase": "Active"},
    }


def _crd_resource(crd: dict) -> ResourceInfo:
    """The resource a CustomResourceDefinition serves, at its storage version (or first served one).
    `object_problem` has checked the types of the fields read here."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = crd_versions(spec)
    version = next((v for v in versions if v.get("storage")), None) or next(
        (v for v in versions if v.get("served", True)), {"name": ""}
    )
    return ResourceInfo(
        group=spec.get("group") or "",
        version=version["name"],
        resource=names.get("plural") or "",
        kind=names.get("kind") or "",
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        verbs=CRD_VERBS,
        singular=names.get("singular") or (names.get("kind") or "").lower(),
    )


def _crd_served_kinds(crd: dict) -> set[tuple[str, str]]:
    """The (apiVersion, kind) pairs a CustomResourceDefinition serves: its kind at each served version."""
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    if not group or not kind:
        return set()
    versions = crd_versions(spec)
    return {(f"{group}/{v['name']}", kind) for v in versions if v.get("served", True) and v.get("name")}
