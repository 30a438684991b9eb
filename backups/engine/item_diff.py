"""What changed between two backups, and inside one item.

`diff_indexes` merge-joins two sorted tarball indexes (`velero_format.tarball_index`): one pass
over both, constant memory, linear in their sizes; an item whose content hash differs changed.
`field_changes` compares two objects field by field (paths like `spec.template.spec.containers[0]
.image`), and `redact` hides a Secret's values from those who may not download the backup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from backups.engine.velero_format.tarball_index import IndexEntry, parse_line

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
REDACTED = "(redacted)"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Fields the API server changes on every write: a backup and the live object always differ there
VOLATILE = ("metadata.resourceVersion", "metadata.managedFields", "metadata.generation")


@dataclass(frozen=True, slots=True)
class ItemChange:
    status: str  # ADDED, REMOVED or CHANGED
    old: IndexEntry | None
    new: IndexEntry | None

    @property
    def entry(self) -> IndexEntry:
        found = self.new or self.old
        assert found is not None
        return found


def diff_indexes(old: Iterable[IndexEntry], new: Iterable[IndexEntry]) -> Iterator[ItemChange]:
    """Items added, removed or changed from `old` to `new`, both sorted by key, in key order."""
    a, b = iter(old), iter(new)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x.key < y.key):
            assert x is not None
            yield ItemChange(REMOVED, x, None)
            x = next(a, None)
        elif x is None or y.key < x.key:
            yield ItemChange(ADDED, None, y)
            y = next(b, None)
        else:
            if x.digest != y.digest:
                yield ItemChange(CHANGED, x, y)
            x, y = next(a, None), next(b, None)


def _keyed(lines: Iterable[bytes]) -> Iterator[tuple[list[bytes], bytes, bytes]]:
    """(resource, namespace, name), content hash, line: without parsing the rest."""
    for line in lines:
        fields = line.split(b"\t", 3)
        yield fields[:3], line.rstrip(b"\n").rsplit(b"\t", 1)[-1], line


def diff_index_lines(old: Iterable[bytes], new: Iterable[bytes]) -> Iterator[ItemChange]:
    """`diff_indexes` over raw index lines (`TarballIndex.lines`): only the lines that differ
    are parsed, so a diff of two 300,000-item backups is a pass of byte comparisons."""
    a, b = _keyed(old), _keyed(new)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            assert x is not None
            yield ItemChange(REMOVED, parse_line(x[2]), None)
            x = next(a, None)
        elif x is None or y[0] < x[0]:
            yield ItemChange(ADDED, None, parse_line(y[2]))
            y = next(b, None)
        else:
            if x[1] != y[1]:
                yield ItemChange(CHANGED, parse_line(x[2]), parse_line(y[2]))
            x, y = next(a, None), next(b, None)


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    status: str  # ADDED, REMOVED or CHANGED
    old: Any = None
    new: Any = None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def field_changes(old: Any, new: Any, *, ignore: Iterable[str] = (), path: str = "") -> list[FieldChange]:
    """Leaf-level differences from `old` to `new`; lists are compared by position, and a list
    of different length reports its extra or missing elements."""
    skip = set(ignore)
    out: list[FieldChange] = []

    def walk(a: Any, b: Any, at: str) -> None:
        if at in skip:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                sub = _join(at, str(key))
                if key not in b:
                    if sub not in skip:
                        out.append(FieldChange(sub, REMOVED, old=a[key]))
                elif key not in a:
                    if sub not in skip:
                        out.append(FieldChange(sub, ADDED, new=b[key]))
                else:
                    walk(a[key], b[key], sub)
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                sub = f"{at}[{i}]"
                if i >= len(b):
                    out.append(FieldChange(sub, REMOVED, old=a[i]))
                elif i >= len(a):
                    out.append(FieldChange(sub, ADDED, new=b[i]))
                else:
                    walk(a[i], b[i], sub)
        elif a != b or type(a) is not type(b):
            out.append(FieldChange(at or "(whole object)", CHANGED, old=a, new=b))

    walk(old, new, path)
    return out


def is_secret(group_resource: str) -> bool:
    return group_resource == "secrets"


def _secret_path(path: str) -> bool:
    return path in (
        "data",
        "stringData",
        "metadata.annotations",
        f"metadata.annotations.{LAST_APPLIED}",
    ) or path.startswith(("data.", "stringData.", "data[", "stringData["))


def _hidden(path: str, value: Any) -> Any:
    if value is None:
        return None
    if path in ("data", "stringData") and isinstance(value, dict):
        return {key: REDACTED for key in value}
    if path == "metadata.annotations" and isinstance(value, dict):
        return {key: REDACTED if key == LAST_APPLIED else v for key, v in value.items()}
    return REDACTED


def redact(group_resource: str, obj: Any) -> Any:
    """A Secret with its values replaced (keys kept, so one sees what it holds); the
    last-applied annotation, which repeats them, too. Other objects are returned as they are."""
    if not is_secret(group_resource) or not isinstance(obj, dict):
        return obj
    out = dict(obj)
    for field in ("data", "stringData"):
        if field in out:
            out[field] = _hidden(field, out[field])
    meta = out.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        out["metadata"] = {**meta, "annotations": _hidden("metadata.annotations", meta["annotations"])}
    return out


def redact_changes(group_resource: str, changes: list[FieldChange]) -> list[FieldChange]:
    """The changes of a Secret with its values hidden: which keys changed still shows."""
    if not is_secret(group_resource):
        return changes
    return [
        FieldChange(c.path, c.status, _hidden(c.path, c.old), _hidden(c.path, c.new))
        if _secret_path(c.path)
        else c
        for c in changes
    ]
