"""A Source read from manifests: a `kubectl get -A -o yaml` dump, YAML/JSON files or a folder of them.

Offline mode runs the engine on exactly what a cluster would list, so the preview of blocks can be
computed without a cluster. Objects are indexed per resource in (namespace, name) order, the order
the API server lists them in, with the namespace ranges remembered so a per-namespace list or a get
touches only that namespace's slice.
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

import yaml

from .builtin import builtin_resource_table
from .resources import ResourceInfo, ResourceTable
from .selectors import InvalidSelector, Selector, parse_selector
from .source import SourceError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CRD_GROUP = "apiextensions.k8s.io"
CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


class ManifestError(ValueError):
    """Input that cannot be read as Kubernetes objects; one line naming the file and the problem."""


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
    added (Active, no labels), so hand-written manifests work with namespace filters.
    """

    def __init__(self, objects: Iterable[dict], origin: str = "<objects>", *, add_missing_namespaces=False):
        loader = _Loader()
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
    path_or_paths: str | Path | Iterable[str | Path], *, add_missing_namespaces: bool = False
) -> ManifestSource:
    """Read YAML/JSON files, or folders of them (recursively, `*.yaml`, `*.yml`, `*.json`, sorted).

    Multi-document YAML and `List`/`*List` objects (a `kubectl get -A -o yaml` dump) are expanded.
    CustomResourceDefinitions in the input make their resources known. Raises ManifestError naming
    the file for unreadable input, invalid YAML/JSON, and objects of a kind nothing in the input serves.
    `add_missing_namespaces`: see ManifestSource.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    if not paths:
        raise ManifestError("no manifest paths given")
    loader = _Loader()
    collecting = gc.isenabled()
    gc.disable()  # millions of new dicts and strings, no cycles: the collector would only rescan them
    try:
        for path in _manifest_files(paths):
            loader.add_all(_read_documents(path), str(path))
        return ManifestSource._from_loader(loader, add_missing_namespaces)
    finally:
        if collecting:
            gc.enable()


def read_objects(path_or_paths: str | Path | Iterable[str | Path]) -> Iterator[dict]:
    """The Kubernetes objects in YAML/JSON files or folders, as plain dicts, in file order.

    Files and folders as for `load_manifests` (folders recursively, `*.yaml`, `*.yml`, `*.json`,
    sorted); multi-document YAML and `List`/`*List` objects are expanded. Each object is checked to
    have apiVersion, kind and metadata.name; kinds are not resolved and nothing is deduplicated.
    Raises ManifestError naming the file for missing paths, unreadable or invalid input.
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    for path in _manifest_files(paths):
        origin = str(path)
        for document in _read_documents(path):
            yield from _expand(document, origin)


def _manifest_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(
                (p for p in path.rglob("*") if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()),
                key=lambda p: p.relative_to(path).parts,
            )
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise ManifestError(f"{path}: not a file or folder")
        else:
            raise ManifestError(f"{path}: no such file or folder")
    return files


def _read_documents(path: Path) -> Iterator[dict]:
    """The documents of one file, each checked to be a mapping; errors name the file and document."""
    try:
        with path.open("rb") as f:
            data = f.read()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            documents: Iterable = [json.loads(data)]
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ManifestError(f"{path}: invalid JSON at {where}: {exc.msg}") from exc
    else:
        documents = _yaml_documents(data)
    number = 0
    try:
        for number, document in enumerate(documents, start=1):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ManifestError(
                    f"{path}: document {number} is a {type(document).__name__}, not a Kubernetes object"
                )
            yield document
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML in document {number + 1}{_yaml_problem(exc)}") from exc


class _YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """Safe YAML that keeps timestamps as strings, as Kubernetes' own YAML decoding does."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALAR_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _UnusualYaml(Exception):
    """YAML that the fast reader leaves to PyYAML's full loader (anchors, explicit tags, merge keys)."""


def _yaml_documents(data: bytes) -> Iterator:
    """Documents of a YAML stream, built straight from parser events when the YAML is plain.

    PyYAML's loader composes a node graph before constructing objects, which costs about ten times
    the parse itself on a large `kubectl get -o yaml` dump; plain YAML (no anchors, aliases, explicit
    tags or merge keys, which kubectl never writes) is built here from the events instead, with
    the same result. Anything else is read again from the start by the full loader.
    """
    done = 0
    try:
        for document in _plain_yaml_documents(data):
            yield document
            done += 1
        return
    except _UnusualYaml:
        pass
    for number, document in enumerate(yaml.load_all(data, Loader=_YamlLoader)):
        if number >= done:
            yield document


def _plain_yaml_documents(data: bytes) -> Iterator:
    events = yaml.events
    stack: list[list] = []  # [container, pending mapping key or _NO_KEY]
    root = None

    def add(value) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        top = stack[-1]
        if isinstance(top[0], list):
            top[0].append(value)
        elif top[1] is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise _UnusualYaml
            top[1] = value
        else:
            top[0][top[1]] = value
            top[1] = _NO_KEY

    for event in yaml.parse(data, Loader=_YamlLoader):
        kind = type(event)
        if kind is events.ScalarEvent:
            if event.anchor:
                raise _UnusualYaml
            add(_plain_scalar(event))
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            if event.anchor or event.tag not in (None, "!", _MAP, _SEQ):
                raise _UnusualYaml
            stack.append([{} if kind is events.MappingStartEvent else [], _NO_KEY])
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            add(stack.pop()[0])
        elif kind is events.DocumentEndEvent:
            yield root
            root = None
        elif kind is events.AliasEvent:
            raise _UnusualYaml


_NO_KEY = object()


def _plain_scalar(event: yaml.events.ScalarEvent):
    value, tag = event.value, event.tag
    if tag == _STR or tag == "!" or (tag is None and not event.implicit[0]):
        return value
    if tag is not None:
        raise _UnusualYaml
    for resolved, regexp in _YamlLoader.yaml_implicit_resolvers.get(value[:1], ()):
        if regexp.match(value):
            construct = _SCALAR_CONSTRUCTOR.yaml_constructors.get(resolved)
            if construct is None or resolved == "tag:yaml.org,2002:merge":
                raise _UnusualYaml
            return construct(_SCALAR_CONSTRUCTOR, yaml.ScalarNode(resolved, value))
    return value


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{context}, {problem}" if context else problem
    return f"{where}: {' '.join(str(detail).split())}"


class _Loader:
    """Collects objects, expands lists, learns CRDs, then resolves kinds and builds the indexes."""

    def __init__(self) -> None:
        # (apiVersion, kind) -> {(namespace, name): object}; first origin seen, for error messages
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._origins: dict[tuple[str, str], str] = {}
        self._crds: list[ResourceInfo] = []

    def add_all(self, objects: Iterable[dict], origin: str) -> None:
        for obj in objects:
            self.add(obj, origin)

    def add(self, obj: dict, origin: str) -> None:
        name = _object_name(obj, origin)
        if name is None:
            for item in _list_items(obj, origin):
                self.add(item, origin)
            return
        api_version, kind, metadata = obj["apiVersion"], obj["kind"], obj["metadata"]
        if kind == "CustomResourceDefinition" and api_version.startswith(CRD_GROUP + "/"):
            self._crds.append(_crd_resource(obj, origin))
        key = (api_version, kind)
        if key not in self._objects:
            self._objects[key] = {}
            self._origins[key] = origin
        self._objects[key][(metadata.get("namespace") or "", name)] = obj

    def build(self, add_missing_namespaces: bool) -> tuple[ResourceTable, dict[str, _ResourceIndex]]:
        table = builtin_resource_table()
        crds = sorted(
            {c.group_resource: c for c in reversed(self._crds)}.values(), key=lambda c: (c.group, c.resource)
        )
        table = table.extended(crds)
        grouped: dict[str, dict[tuple[str, str], dict]] = {}
        for (api_version, kind), objects in self._objects.items():
            info = table.by_kind(api_version, kind)
            if info is None:
                origin = self._origins[(api_version, kind)]
                raise ManifestError(
                    f"{origin}: unknown kind {kind!r} (apiVersion {api_version!r}): not a built-in resource"
                    " and no CustomResourceDefinition in the input defines it"
                )
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
            if table.by_group_resource(gr).namespaced:
                for namespace, _ in objects:
                    namespaces.setdefault(("", namespace), _namespace(namespace))
        return table, {gr: _ResourceIndex(list(objects.values())) for gr, objects in grouped.items()}


def _object_name(obj: dict, origin: str) -> str | None:
    """The metadata.name of a Kubernetes object, or None for a `List`/`*List` to expand.

    Raises ManifestError for a non-mapping, a missing apiVersion or kind, or an object without a name.
    """
    if not isinstance(obj, dict):
        raise ManifestError(f"{origin}: a {type(obj).__name__} is not a Kubernetes object")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        raise ManifestError(f"{origin}: object without apiVersion and kind ({_describe(obj)})")
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if kind.endswith("List") and "items" in obj and not name:
        return None
    if not name or not isinstance(name, str):
        raise ManifestError(f"{origin}: {kind} ({api_version}) without metadata.name")
    return name


def _list_items(obj: dict, origin: str) -> Iterator[dict]:
    """The items of a `List`/`*List`, each checked as it comes; a typed list's items get its apiVersion
    and kind (a PodList's: v1 Pod)."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    items = obj.get("items") or []
    if not isinstance(items, list):
        raise ManifestError(f"{origin}: {kind} whose items is not a list")
    # A typed list from the API (PodList) leaves apiVersion and kind out of its items.
    item_kind = kind[: -len("List")] if kind != "List" else ""
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ManifestError(f"{origin}: item {n} of {kind} is not a Kubernetes object")
        if item_kind:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", item_kind)
        yield item


def _expand(obj: dict, origin: str) -> Iterator[dict]:
    """The object itself, or a list's items expanded (recursively); each checked by `_object_name`."""
    if _object_name(obj, origin) is None:
        for item in _list_items(obj, origin):
            yield from _expand(item, origin)
    else:
        yield obj


def _namespace(name: str) -> dict:
    """The Namespace a cluster must have for objects to live in it, when the input leaves it out."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "status": {"phase": "Active"},
    }


def _crd_resource(crd: dict, origin: str) -> ResourceInfo:
    """The resource a CustomResourceDefinition serves, at its storage version (or first served one)."""
    name = crd["metadata"]["name"]
    try:
        spec = crd["spec"]
        names = spec["names"]
        versions = spec.get("versions") or [{"name": spec["version"], "served": True, "storage": True}]
        version = next((v for v in versions if v.get("storage")), None) or next(
            v for v in versions if v.get("served", True)
        )
        return ResourceInfo(
            group=spec["group"],
            version=version["name"],
            resource=names["plural"],
            kind=names["kind"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            verbs=CRD_VERBS,
            singular=names.get("singular") or names["kind"].lower(),
        )
    except (KeyError, TypeError, AttributeError, StopIteration) as exc:
        raise ManifestError(
            f"{origin}: CustomResourceDefinition {name!r} lacks spec.group, spec.names.plural/kind "
            "or a served version"
        ) from exc


def _describe(obj: dict) -> str:
    keys = ", ".join(list(obj)[:4])
    return f"keys: {keys}" if keys else "empty mapping"
