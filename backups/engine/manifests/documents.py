"""Manifest files read into documents, as Kubernetes reads YAML and JSON: timestamps stay strings,
a bare `=` is the string "=", and input beyond the limits (nesting deeper than MAX_DEPTH, YAML
alias bombs) or not YAML/JSON at all is a ManifestError naming the file."""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


# Levels of nested mappings and lists in one document: orjson's limit, so that manifests read as deep as
# a live cluster's answers (backups.kube parses them with orjson). Kubernetes objects stay far below.
MAX_DEPTH = 1024


class ManifestError(ValueError):
    """Input that cannot be read as Kubernetes objects; one line naming the file and the problem."""


def manifest_files(paths: list[str | Path]) -> list[Path]:
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


def read_documents(path: Path) -> Iterator[tuple[int, object]]:
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
