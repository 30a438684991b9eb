"""The objects of a document, each checked as the API server would before anything reads it: a
`List` is expanded, and an object with a field of the wrong type (where the engine reads names,
pods, claims, volumes, bindings and CRDs) is a warning naming it, and skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from typing import Any

CRD_GROUP = "apiextensions.k8s.io"
Warn = Callable[[str], None]


def checked_objects(document: object, where: str, origin: str, warn: Warn) -> Iterator[dict]:
    """The Kubernetes objects of one document: itself, or the items of a `List`/`*List` (expanded
    with a stack, not recursion, however deep lists nest). Each is checked by `object_problem`; one that
    fails is skipped with a warning naming the file and the object; a typed list's items get its
    apiVersion and kind (a PodList's: v1 Pod), which the API leaves out of them."""
    # (objects with their position, and the words around a position that say where one is)
    stack: list[tuple[Iterator[tuple[Any, int]], tuple[str, str]]] = [(iter([(document, 0)]), (where, ""))]
    while stack:
        objects, (before, after) = stack[-1]
        for obj, position in objects:
            problem = object_problem(obj) if type(obj) is dict else _NOT_A_MAPPING
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
                warn(f"{origin}: {object_label(obj, here)}: {problem}; skipped")
        else:
            stack.pop()


def _typed_items(items: list, api_version: str, kind: str) -> Iterator[tuple[object, int]]:
    for position, item in enumerate(items, start=1):
        if type(item) is dict:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        yield item, position


_LIST, _NOT_A_MAPPING = "<list>", "<not a mapping>"


def object_problem(obj: dict) -> str | None:
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
        return f"no apiVersion and kind ({describe(obj)})"
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
    if not any(v.get("name") and v.get("served", True) for v in crd_versions(spec)):
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


def object_label(obj: dict, where: str = "") -> str:
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


def crd_versions(spec: dict) -> list[dict]:
    version = spec.get("version")
    return spec.get("versions") or ([{"name": version, "served": True, "storage": True}] if version else [])


def describe(obj: dict) -> str:
    keys = ", ".join(list(obj)[:4])
    return f"keys: {keys}" if keys else "empty mapping"
