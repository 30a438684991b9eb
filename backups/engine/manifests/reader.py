"""A Source read from manifests: a `kubectl get -A -o yaml` dump, YAML/JSON files or a folder of them.

Offline mode runs the engine on exactly what a cluster would list, so the preview of blocks can be
computed without a cluster. Objects are indexed per resource in (namespace, name) order, the order
the API server lists them in, with the namespace ranges remembered so a per-namespace list or a get
touches only that namespace's slice.

Input is untrusted. A file that cannot be read (invalid YAML/JSON, nesting deeper than MAX_DEPTH, a
YAML alias bomb) is a ManifestError naming it; an object that the API server would refuse (wrong
field types, a kind or version discovery does not serve) is a warning naming the file and the
object, and is skipped while the rest loads.
"""

from __future__ import annotations

import codecs
import gc
import logging
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import count, groupby
from pathlib import Path
from typing import Any

import orjson
import yaml

from backups.engine.planning.label_selectors import InvalidSelector, Selector, parse_selector
from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import SourceError

from .discovery import builtin_resource_table, builtin_served_kinds

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CRD_GROUP = "apiextensions.k8s.io"
CRD_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
# Levels of nested mappings and lists in one document: orjson's limit, so that manifests read as deep as
# a live cluster's answers (backups.kube parses them with orjson). Kubernetes objects stay far below.
MAX_DEPTH = 1024

Warn = Callable[[str], None]
_log = logging.getLogger(__name__)


def _log_warning(message: str) -> None:
    _log.warning("%s", message)


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
        for path in _manifest_files(paths):
            loader.add_documents(_read_documents(path), str(path))
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
    for path in _manifest_files(paths):
        origin = str(path)
        for number, document in _read_documents(path):
            yield from _objects(document, f"document {number}", origin, warn)


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
        first = _object_label(skipped[0])
        (warn or _log_warning)(_unserved_message(api_version, kind, len(skipped), first=first))
    return kept


def _unserved_message(api_version: str, kind: str, count: int, origin: str = "", first: str = "") -> str:
    where = f"{origin}: " if origin else ""
    which = (first or kind) + (f" and {count - 1} more {kind}" if count > 1 else "")
    return (
        f"{where}{which}: apiVersion {api_version!r} kind {kind!r} is not served (not a built-in resource "
        "at that version, and no CustomResourceDefinition in the input defines it); skipped"
    )


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


class _InputLimit(Exception):
    """A document beyond what the reader accepts (nesting, aliases); the message says which limit."""


def _read_documents(path: Path) -> Iterator[tuple[int, object]]:
    """The non-empty documents of one file, numbered from 1; errors name the file and document."""
    try:
        with path.open("rb") as f:
            data = f.read()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if path.suffix.lower() == ".json":
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            problem = exc.msg
            if problem == "depth limit exceeded":
                problem = f"nested deeper than {MAX_DEPTH} levels"
            raise ManifestError(f"{path}: invalid JSON at {where}: {problem}") from None
        if document is not None:
            yield 1, document
        return
    number = 0
    try:
        for number, document in enumerate(_yaml_documents(data), start=1):
            if document is not None:
                yield number, document
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path}: invalid YAML in document {number + 1}{_yaml_problem(exc)}") from None
    except _InputLimit as exc:
        raise ManifestError(f"{path}: document {number + 1}: {exc}") from None
    except RecursionError:  # only PyYAML's pure-Python composer recurses; it runs when libyaml is absent
        raise ManifestError(f"{path}: document {number + 1} is nested too deeply to read") from None


_STRING_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")


_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when it is there


class _YamlLoader(_SafeLoader):
    """Safe YAML read as Kubernetes reads it: timestamps stay strings, and a bare `=` is the string "="
    (YAML 1.1's value key, which PyYAML cannot construct and CRDs use in enums of operators)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _STRING_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALAR_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _UnusualYaml(Exception):
    """YAML that the fast reader leaves to PyYAML's full loader (explicit tags, merge keys, mappings
    as keys, undefined aliases)."""


def _yaml_documents(data: bytes) -> Iterator:
    """Documents of a YAML stream, built straight from parser events when the YAML is plain.

    PyYAML's loader composes a node graph before constructing objects, which costs about ten times
    the parse itself on a large `kubectl get -o yaml` dump; plain YAML (anchors and aliases allowed;
    no explicit tags or merge keys, which kubectl never writes) is built here from the events
    instead, with the same result, checking nesting and aliases as it goes. Anything else is checked
    for its nesting and aliases, then read again from the start by the full loader.
    """
    done = 0
    try:
        for document in _plain_yaml_documents(data):
            yield document
            done += 1
        return
    except _UnusualYaml:
        pass
    _check_nesting_and_aliases(data)
    for number, document in enumerate(yaml.load_all(data, Loader=_YamlLoader)):
        if number >= done:
            yield document


def _plain_yaml_documents(data: bytes) -> Iterator:
    events = yaml.events
    stack: list[list] = []  # [container, pending mapping key or _NO_KEY, anchor]
    root = None
    anchors: dict[str, object] = {}  # this document's anchors and their values
    sizes: dict[int, tuple[int, int]] = {}  # id of a container -> (nodes it expands to, its levels)
    first = aliased = 0  # index of the document's first event; nodes that aliases expanded to

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

    scalar, mapping, sequence = events.ScalarEvent, events.MappingStartEvent, events.SequenceStartEvent
    mapping_end, sequence_end = events.MappingEndEvent, events.SequenceEndEvent
    for index, event in enumerate(yaml.parse(data, Loader=_YamlLoader)):
        kind = type(event)
        if kind is scalar:
            value = _plain_scalar(event)
            if event.anchor:
                anchors[event.anchor] = value
            add(value)
        elif kind is mapping or kind is sequence:
            if event.tag not in (None, "!", _MAP, _SEQ):
                raise _UnusualYaml
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(event)
            if event.anchor:
                anchors.pop(event.anchor, None)  # redefined here: an alias inside means this node
            stack.append([{} if kind is mapping else [], _NO_KEY, event.anchor])
        elif kind is mapping_end or kind is sequence_end:
            container, _, anchor = stack.pop()
            if anchor:
                anchors[anchor] = container
            add(container)
        elif kind is events.AliasEvent:
            value = anchors.get(event.anchor, _NO_KEY)
            if value is _NO_KEY:
                if any(entry[2] == event.anchor for entry in stack):
                    raise _InputLimit(f"alias *{event.anchor} inside its own anchor (line {_line(event)})")
                raise _UnusualYaml  # undefined: the full loader says so
            nodes, levels = _expanded(value, sizes)
            aliased += nodes
            _check_aliasing(aliased, index - first + aliased, event)
            if len(stack) + levels > MAX_DEPTH:
                raise _too_deep(event)
            add(value)
        elif kind is events.DocumentEndEvent:
            yield root
            root = None
        elif kind is events.DocumentStartEvent:
            anchors.clear()
            sizes.clear()
            first, aliased = index, 0


_NO_KEY = object()


def _expanded(value: object, sizes: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(nodes, levels) of a value as if every alias in it were copied out: what it costs a reader
    that walks it. Each container is counted once (`sizes`), so an alias bomb costs its own size."""
    if type(value) is not dict and type(value) is not list:
        return 1, 0
    pending = [(value, False)]
    while pending:
        container, children_done = pending.pop()
        if id(container) in sizes:
            continue
        items = list(container.values()) if type(container) is dict else container
        inner = [item for item in items if type(item) is dict or type(item) is list]
        if not children_done:
            pending.append((container, True))
            pending.extend((item, False) for item in inner if id(item) not in sizes)
            continue
        keys = len(container) if type(container) is dict else 0
        nodes = 1 + keys + len(items) - len(inner)
        levels = 0
        for item in inner:
            item_nodes, item_levels = sizes[id(item)]
            nodes += item_nodes
            levels = max(levels, item_levels)
        sizes[id(container)] = (nodes, levels + 1)
    return sizes[id(value)]


def _check_aliasing(aliased: int, decoded: int, event: yaml.events.Event) -> None:
    """go-yaml's rule against alias bombs, the YAML reader of Kubernetes: refused when more than 100
    of more than 1,000 nodes come from aliases, and more than 99% of them for a document up to
    400,000 nodes, down to 10% from 4,000,000 nodes."""
    if aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded):
        raise _InputLimit(
            f"excessive aliasing: aliases expand to {aliased:,} nodes (line {_line(event)}); "
            "refused as an alias bomb"
        )


def _line(event: yaml.events.Event) -> int:
    return event.start_mark.line + 1


def _too_deep(event: yaml.events.Event) -> _InputLimit:
    return _InputLimit(f"nested deeper than {MAX_DEPTH} levels (line {_line(event)})")


def _check_nesting_and_aliases(data: bytes) -> None:
    """Refuse, before PyYAML's full loader sees them, documents it cannot read safely: nesting
    deeper than MAX_DEPTH (its C composer recurses once per level and crashes the process long
    before 100,000), an alias inside its own anchor (a cycle), and alias bombs ("billion laughs":
    a few lines whose aliases expand to billions of nodes). One pass over the parser's events,
    which builds nothing: each anchor is remembered as the number of nodes it expands to."""
    events = yaml.events
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes it expands to, levels it adds)
    open_anchors: Counter[str] = Counter()
    stack: list[list] = []  # [anchor, nodes so far, deepest level below]
    decoded = aliased = 0
    for event in yaml.parse(data, Loader=_YamlLoader):
        kind = type(event)
        if kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise _too_deep(event)
            stack.append([event.anchor, 1, 0])
            if event.anchor:
                open_anchors[event.anchor] += 1
            decoded += 1
            continue
        if kind is events.ScalarEvent:
            anchor, nodes, levels = event.anchor, 1, 0
            decoded += 1
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            anchor, nodes, below = stack.pop()
            levels = below + 1
            if anchor:
                open_anchors[anchor] -= 1
        elif kind is events.AliasEvent:
            if open_anchors[event.anchor] > 0:
                raise _InputLimit(f"alias *{event.anchor} inside its own anchor (line {_line(event)})")
            anchor = None
            nodes, levels = anchors.get(event.anchor, (1, 0))
            if len(stack) + levels > MAX_DEPTH:
                raise _too_deep(event)
            decoded += nodes
            aliased += nodes
            _check_aliasing(aliased, decoded, event)
        elif kind is events.DocumentStartEvent:
            anchors.clear()
            decoded = aliased = 0
            continue
        else:
            continue
        if anchor:
            anchors[anchor] = (nodes, levels)
        if stack:
            parent = stack[-1]
            parent[1] += nodes
            if levels > parent[2]:
                parent[2] = levels


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's allowedAliasRatio (gopkg.in/yaml.v2 and v3, decode.go)."""
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * (decoded - low) / (high - low)


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

    def __init__(self, warn: Warn) -> None:
        # (apiVersion, kind) -> {(namespace, name): object}; first origin seen, for messages
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}
        self._origins: dict[tuple[str, str], str] = {}
        self._crds: list[ResourceInfo] = []
        self._served = builtin_served_kinds()
        self._warn = warn

    def add_documents(self, documents: Iterable[tuple[int, object]], origin: str) -> None:
        for number, document in documents:
            for obj in _objects(document, f"document {number}", origin, self._warn):
                self._add(obj, origin)

    def add_all(self, objects: Iterable[dict], origin: str) -> None:
        for number, obj in enumerate(objects, start=1):
            if type(obj) is dict and _problem(obj) is None:  # the common case, without a generator
                self._add(obj, origin)
            else:
                for checked in _objects(obj, f"object {number}", origin, self._warn):
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
                first = _object_label(next(iter(objects.values())))
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


def _objects(document: object, where: str, origin: str, warn: Warn) -> Iterator[dict]:
    """The Kubernetes objects of one document: itself, or the items of a `List`/`*List` (expanded
    with a stack, not recursion, however deep lists nest). Each is checked by `_problem`; one that
    fails is skipped with a warning naming the file and the object; a typed list's items get its
    apiVersion and kind (a PodList's: v1 Pod), which the API leaves out of them."""
    # (objects with their position, and the words around a position that say where one is)
    stack: list[tuple[Iterator[tuple[Any, int]], tuple[str, str]]] = [(iter([(document, 0)]), (where, ""))]
    while stack:
        objects, (before, after) = stack[-1]
        for obj, position in objects:
            problem = _problem(obj) if type(obj) is dict else _NOT_A_MAPPING
            if problem is None:
                yield obj
                continue
            here = f"{before}{position or ''}{after}"
            if problem is _LIST:
                kind = obj["kind"]
                items = obj["items"] or []
                typed = kind[: -len("List")] if kind != "List" else ""
                found = _typed_items(items, obj["apiVersion"], typed) if typed else zip(items, count(1))
                stack.append((found, ("item ", f" of {kind} ({here})")))
                break
            if problem is _NOT_A_MAPPING:
                warn(f"{origin}: {here} is {_shape(obj)}, not a Kubernetes object; skipped")
            else:
                warn(f"{origin}: {_object_label(obj, here)}: {problem}; skipped")
        else:
            stack.pop()


def _typed_items(items: list, api_version: str, kind: str) -> Iterator[tuple[object, int]]:
    for position, item in enumerate(items, start=1):
        if type(item) is dict:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        yield item, position


_LIST, _NOT_A_MAPPING = "<list>", "<not a mapping>"


def _problem(obj: dict) -> str | None:
    """Why the API server would refuse this object (its first wrong field), `_LIST` for a
    `List`/`*List` to expand, or None. Checks the fields every object has and those the engine
    takes names from or walks in pods, claims, volumes, bindings and CRDs, so nothing after this
    breaks on a wrong type. Runs once per object of a 300,000-object dump: a few lookups each."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    metadata: Any = obj.get("metadata")
    if type(api_version) is not str or type(kind) is not str or not api_version or not kind:
        return _type_problem(obj, api_version, kind)
    name = metadata.get("name") if type(metadata) is dict else None
    if type(name) is not str or not name:
        if kind.endswith("List") and "items" in obj and not name:
            items = obj["items"]
            return _LIST if items is None or type(items) is list else f"items is {_shape(items)}, not a list"
        if type(metadata) is not dict:
            return "no metadata" if metadata is None else f"metadata is {_shape(metadata)}, not a mapping"
        return "no metadata.name" if not name else f"metadata.name is {_shape(name)}, not a string"
    namespace, labels = metadata.get("namespace"), metadata.get("labels")
    annotations, spec, status = metadata.get("annotations"), obj.get("spec"), obj.get("status")
    try:  # join checks every key and value is a string in C, without a Python loop per label
        if namespace is not None and type(namespace) is not str:
            return f"metadata.namespace is {_shape(namespace)}, not a string"
        if labels is not None:
            "".join(labels.values()) + "".join(labels)
        if annotations is not None:
            "".join(annotations.values()) + "".join(annotations)
    except (TypeError, AttributeError):
        field, value = ("labels", labels) if not _string_map(labels) else ("annotations", annotations)
        return f"metadata.{field} must map strings to strings, not be {_shape(value)}"
    if spec is not None and type(spec) is not dict:
        return f"spec is {_shape(spec)}, not a mapping"
    if status is not None and type(status) is not dict:
        return f"status is {_shape(status)}, not a mapping"
    checked = _CHECKED_KINDS.get(kind)
    if checked is None or checked[0] != api_version.rpartition("/")[0]:
        return None
    return checked[1](obj)


def _type_problem(obj: dict, api_version: object, kind: object) -> str:
    if not api_version and not kind:
        return f"no apiVersion and kind ({_describe(obj)})"
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if not value:
            return f"no {field}"
        if type(value) is not str:
            return f"{field} is {_shape(value)}, not a string"
    raise AssertionError("called for a valid apiVersion and kind")


def _pod_problem(pod: dict) -> str | None:
    """The pod fields the relations and hooks take names from or walk (fields they only compare,
    like the phase, cannot break them). Pods are the commonest kind (40% of a cluster): written
    out, not walked, so checking one costs about what reading it does."""
    spec = pod.get("spec")
    if not spec:
        return None
    priority_class = spec.get("priorityClassName")
    if priority_class is not None and type(priority_class) is not str:
        return f"spec.priorityClassName is {_shape(priority_class)}, not a string"
    volumes = spec.get("volumes")
    if volumes is not None:
        if type(volumes) is not list:
            return f"spec.volumes is {_shape(volumes)}, not a list"
        if not all(map(_volume_ok, volumes)):
            return _wrong_items(volumes, _VOLUME, "spec.volumes")
    for field in ("containers", "initContainers"):
        containers = spec.get(field)
        if containers is not None:
            if type(containers) is not list:
                return f"spec.{field} is {_shape(containers)}, not a list"
            if not all(map(_container_ok, containers)):
                return _wrong_items(containers, _CONTAINER, f"spec.{field}")
    return None


def _volume_ok(volume: object) -> bool:
    if type(volume) is not dict:
        return False
    claim = volume.get("persistentVolumeClaim")
    if claim is None:
        return True
    name = claim.get("claimName") if type(claim) is dict else 0
    return name is None or type(name) is str


def _container_ok(container: object) -> bool:
    if type(container) is not dict:
        return False
    name = container.get("name")
    return name is None or type(name) is str


_VOLUME = {"persistentVolumeClaim": {"claimName": str}}
_CONTAINER = {"name": str}


def _string_map(value: object) -> bool:
    if value is None:
        return True
    if type(value) is not dict:
        return False
    try:
        "".join(value) + "".join(value.values())
    except TypeError:
        return False
    return True


# The fields the engine reads from other kinds, per (group, kind), as the shape they must have when
# present: a type, a mapping of fields, or a one-item list whose item is the shape of every element.
_SHAPES: dict[tuple[str, str], dict] = {
    ("", "PersistentVolumeClaim"): {
        "spec": {
            "volumeName": str,
            "storageClassName": str,
            "selector": dict,
            "dataSource": dict,
            "dataSourceRef": dict,
        },
        "status": {"phase": str},
    },
    ("", "PersistentVolume"): {"spec": {"csi": {"driver": str}, "claimRef": dict}},
    ("", "Namespace"): {"metadata": {"deletionTimestamp": str}, "status": {"phase": str}},
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): {
        "subjects": [{"kind": str, "name": str, "namespace": str}],
        "roleRef": {"name": str},
    },
    (CRD_GROUP, "CustomResourceDefinition"): {
        "spec": {
            "group": str,
            "scope": str,
            "version": str,
            "names": {"plural": str, "kind": str, "singular": str, "shortNames": [str], "categories": [str]},
            "versions": [{"name": str, "served": bool, "storage": bool, "subresources": dict}],
        },
    },
}


def _shaped(shape: dict) -> Callable[[dict], str | None]:
    return lambda obj: _wrong_field(obj, shape, "")


def _crd_problem(crd: dict) -> str | None:
    problem = _wrong_field(crd, _SHAPES[(CRD_GROUP, "CustomResourceDefinition")], "")
    if problem:
        return problem
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not spec.get("group") or not names.get("plural") or not names.get("kind"):
        return "a CustomResourceDefinition needs spec.group, spec.names.plural and spec.names.kind"
    if not any(v.get("name") and v.get("served", True) for v in _crd_versions(spec)):
        return "a CustomResourceDefinition needs a served version"
    return None


# kind -> (its group, the check of its fields): kinds are looked up first, as most objects have none.
_CHECKED_KINDS: dict[str, tuple[str, Callable[[dict], str | None]]] = {
    kind: (group, _shaped(shape)) for (group, kind), shape in _SHAPES.items()
}
_CHECKED_KINDS["Pod"] = ("", _pod_problem)
_CHECKED_KINDS["CustomResourceDefinition"] = (CRD_GROUP, _crd_problem)


def _wrong_field(value: Any, shape: Any, path: str) -> str | None:
    """The first field of `value` (a mapping when `shape` is one) not of its shape, else None."""
    for key, inner in shape.items():
        field = value.get(key)
        if field is None:
            continue
        where = f"{path}.{key}" if path else key
        if type(inner) is dict:
            if type(field) is not dict:
                return f"{where} is {_shape(field)}, not a mapping"
            problem = _wrong_field(field, inner, where)
        elif type(inner) is list:
            if type(field) is not list:
                return f"{where} is {_shape(field)}, not a list"
            problem = _wrong_items(field, inner[0], where)
        elif type(field) is not inner:
            return f"{where} is {_shape(field)}, not a {_TYPE_NAMES[inner]}"
        else:
            continue
        if problem:
            return problem
    return None


def _wrong_items(items: list, shape: Any, path: str) -> str | None:
    for number, item in enumerate(items):
        if type(shape) is dict:
            if type(item) is not dict:
                return f"{path}[{number}] is {_shape(item)}, not a mapping"
            problem = _wrong_field(item, shape, f"{path}[{number}]")
            if problem:
                return problem
        elif type(item) is not shape:
            return f"{path}[{number}] is {_shape(item)}, not a {_TYPE_NAMES[shape]}"
    return None


_TYPE_NAMES = {str: "string", dict: "mapping", list: "list", bool: "boolean", int: "number", float: "number"}


def _type_name(value: object) -> str:
    return "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)


def _shape(value: object) -> str:
    """`a list`, `the number 3`: a wrong value as a message shows it (short, one line)."""
    if isinstance(value, (dict, list)):
        return f"a {_type_name(value)}"
    text = " ".join(repr(value).split())
    return f"the {_type_name(value)} {text[:40]}{'...' if len(text) > 40 else ''}"


def _object_label(obj: dict, where: str = "") -> str:
    """`ConfigMap shop/settings` when the object says its kind and name, else where it is in the
    file, with its kind when it has one: `document 3 (ConfigMap)`."""
    metadata: Any = obj.get("metadata")
    kind = obj.get("kind")
    if type(kind) is not str or not kind:
        return where or "an object"
    name = metadata.get("name") if type(metadata) is dict else None
    if type(name) is not str or not name:
        return f"{where} ({kind})" if where else kind
    namespace = metadata.get("namespace")
    return f"{kind} {namespace}/{name}" if type(namespace) is str and namespace else f"{kind} {name}"


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
    `_problem` has checked the types of the fields read here."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = _crd_versions(spec)
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


def _crd_versions(spec: dict) -> list[dict]:
    version = spec.get("version")
    return spec.get("versions") or ([{"name": version, "served": True, "storage": True}] if version else [])


def _crd_served_kinds(crd: dict) -> set[tuple[str, str]]:
    """The (apiVersion, kind) pairs a CustomResourceDefinition serves: its kind at each served version."""
    spec = crd.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    if not group or not kind:
        return set()
    versions = _crd_versions(spec)
    return {(f"{group}/{v['name']}", kind) for v in versions if v.get("served", True) and v.get("name")}


def _describe(obj: dict) -> str:
    keys = ", ".join(list(obj)[:4])
    return f"keys: {keys}" if keys else "empty mapping"
