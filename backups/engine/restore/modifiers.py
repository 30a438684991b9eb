"""Velero's restore resource modifiers (internal/resourcemodifiers): rules that patch items before
they are created.

A document is `version: v1` and `resourceModifierRules`, each rule with `conditions`
(`groupResource` glob, optional `resourceNameRegex`, `namespaces`, `labelSelector` and `matches`:
JSON-pointer `path` + `value` tests) and exactly one of `patches` (RFC 6902 JSON patch operations,
values written as strings the way Velero reads them), `mergePatches` (RFC 7386) or
`strategicPatches` (Kubernetes strategic merge patch; Veloweb merges lists of objects by their
`name` key, the merge key of containers, volumes, env, ports and volumeMounts, and replaces other
lists). Every rule is matched against the object as it was before any rule applied (Velero's
`origin`), and applied in order. A test that fails skips that rule's patch silently, as Velero.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import yaml

from backups.engine.planning.label_selectors import InvalidSelector, Selector

SUPPORTED_VERSION = "v1"
_OPERATIONS = ("add", "remove", "replace", "test", "move", "copy")
_RULE_KEYS = {"conditions", "patches", "mergePatches", "strategicPatches"}
_CONDITION_KEYS = {"namespaces", "groupResource", "resourceNameRegex", "labelSelector", "matches"}


class ModifierError(ValueError):
    """A resource modifiers document Velero refuses; the message names the rule and the problem."""


class PatchError(ValueError):
    """A JSON patch that cannot be applied (a missing path, a bad index)."""


class PatchTestFailed(PatchError):
    """A `test` operation did not hold."""


# ---------------------------------------------------------------------------------------- RFC 6902


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list, token: str, *, for_add: bool = False) -> int:
    if token == "-" and for_add:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"invalid array index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not for_add):
        raise PatchError(f"array index {i} out of range")
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"missing path segment {token!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token)]
        else:
            raise PatchError(f"cannot descend into {type(node).__name__} at {token!r}")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"missing value at {path}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last)]
    raise PatchError(f"no value at {path}")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, for_add=True), value)
    else:
        raise PatchError(f"cannot add at {path}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"missing value at {path}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last))
    raise PatchError(f"cannot remove at {path}")


def apply_json_patch(doc: Any, operations: list[Mapping]) -> Any:
    """RFC 6902 on a deep copy of `doc`; raises PatchTestFailed or PatchError."""
    doc = copy.deepcopy(doc)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc, _ = _remove(doc, path) if path else (doc, None)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "move":
            doc, value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            try:
                have = _get(doc, path)
            except PatchError:
                raise PatchTestFailed(f"testing value {path} failed: missing") from None
            if have != op.get("value"):
                raise PatchTestFailed(f"testing value {path} failed")
        else:
            raise PatchError(f"unsupported operation {kind!r}")
    return doc


def velero_patch_value(value: Any) -> Any:
    """A patch `value` as Velero reads it (JSONPatch.ToString): a string that looks like JSON
    (number, true/false, null, object, array) is that JSON; a quoted or other string is a string."""
    if not isinstance(value, str):
        return value
    if value == "":
        return ""
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        return value[1:-1]
    if value == "null":
        return None
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and re.fullmatch(r"[-+]?\d+", value) else number


# -------------------------------------------------------------------------------- merge patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (a new value; inputs untouched)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch: a merge patch whose lists of objects that all have `name` are merged
    item by item on that key (new names appended); `$patch: delete` in such an item removes it."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            continue
        have = out.get(key)
        if isinstance(value, list) and isinstance(have, list) and _named_list(value) and _named_list(have):
            merged = list(have)
            for item in value:
                at = next((i for i, h in enumerate(merged) if h.get("name") == item["name"]), None)
                if item.get("$patch") == "delete":
                    if at is not None:
                        merged.pop(at)
                elif at is None:
                    merged.append(copy.deepcopy(item))
                else:
                    merged[at] = strategic_merge_patch(merged[at], item)
            out[key] = merged
        else:
            out[key] = strategic_merge_patch(have, value)
    return out


def _named_list(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


# ------------------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class ModifierRule:
    group_resource: str
    namespaces: tuple[str, ...]
    name_regex: re.Pattern | None
    selector: Selector | None
    matches: tuple[tuple[str, Any], ...]
    kind: str  # "json" | "merge" | "strategic"
    patches: tuple[Any, ...]

    def matches_object(self, obj: dict, group_resource: str) -> bool:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or ""
        if namespace and self.namespaces and not any(fnmatchcase(namespace, p) for p in self.namespaces):
            return False
        if not _glob_dot(self.group_resource, group_resource):
            return False
        if self.name_regex is not None and not self.name_regex.search(meta.get("name") or ""):
            return False
        if self.selector is not None and not self.selector.matches(meta.get("labels") or {}):
            return False
        if self.matches:
            try:
                apply_json_patch(obj, [{"op": "test", "path": p, "value": v} for p, v in self.matches])
            except PatchError:
                return False
        return True

    def apply(self, obj: dict) -> dict:
        if self.kind == "json":
            try:
                return apply_json_patch(obj, list(self.patches))
            except PatchTestFailed:
                return obj
        for patch in self.patches:
            obj = merge_patch(obj, patch) if self.kind == "merge" else strategic_merge_patch(obj, patch)
        return obj


def _glob_dot(pattern: str, value: str) -> bool:
    """gobwas/glob with '.' as separator: `*` does not cross a dot, `**` does."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^.]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^.]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, value) is not None


@dataclass(frozen=True)
class ModifierRules:
    version: str
    rules: tuple[ModifierRule, ...]

    def apply(self, obj: dict, group_resource: str) -> tuple[dict, list[str]]:
        """(the object with every matching rule's patches applied, errors). Rules match against the
        object as it was before any of them; a rule that fails leaves the object as it was."""
        origin = obj
        errors: list[str] = []
        for index, rule in enumerate(self.rules):
            if not rule.matches_object(origin, group_resource):
                continue
            try:
                obj = rule.apply(obj)
            except PatchError as exc:
                errors.append(f"error in applying patch of resource modifier rule {index + 1}: {exc}")
        return obj, errors


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _patch_data(rule_no: int, kind: str, entry: Any) -> Any:
    if not isinstance(entry, Mapping) or set(entry) != {"patchData"}:
        raise ModifierError(f"rule {rule_no}: each of {kind} must be an object with patchData only")
    data = entry["patchData"]
    if isinstance(data, str):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise ModifierError(f"rule {rule_no}: {kind} patchData is not valid JSON or YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ModifierError(f"rule {rule_no}: {kind} patchData must be an object")
    return data


def _rule(rule_no: int, raw: Any) -> ModifierRule:
    if not isinstance(raw, Mapping):
        raise ModifierError(f"rule {rule_no}: must be an object")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise ModifierError(f"rule {rule_no}: unknown field {min(unknown)!r}")
    cond = raw.get("conditions")
    if not isinstance(cond, Mapping):
        raise ModifierError(f"rule {rule_no}: conditions are required")
    unknown = set(cond) - _CONDITION_KEYS
    if unknown:
        raise ModifierError(f"rule {rule_no}: unknown condition {min(unknown)!r}")
    group_resource = cond.get("groupResource")
    if not group_resource or not isinstance(group_resource, str):
        raise ModifierError(f"rule {rule_no}: conditions.groupResource cannot be empty")
    namespaces = cond.get("namespaces") or []
    if not isinstance(namespaces, list) or not all(isinstance(n, str) for n in namespaces):
        raise ModifierError(f"rule {rule_no}: conditions.namespaces must be a list of names")
    regex = None
    if cond.get("resourceNameRegex"):
        try:
            regex = re.compile(str(cond["resourceNameRegex"]))
        except re.error as exc:
            raise ModifierError(f"rule {rule_no}: invalid resourceNameRegex: {exc}") from exc
    selector = None
    if cond.get("labelSelector") is not None:
        try:
            selector = Selector.from_label_selector(cond["labelSelector"])
        except InvalidSelector as exc:
            raise ModifierError(f"rule {rule_no}: {exc}") from exc
    matches = []
    for m in cond.get("matches") or []:
        if not isinstance(m, Mapping) or not m.get("path"):
            raise ModifierError(f"rule {rule_no}: path is required for match rule")
        matches.append((str(m["path"]), velero_patch_value(_text(m.get("value", "")))))

    kinds = [k for k in ("patches", "mergePatches", "strategicPatches") if raw.get(k)]
    if len(kinds) > 1:
        raise ModifierError(
            f"rule {rule_no}: only one of patches, mergePatches, strategicPatches can be specified"
        )
    if not kinds:
        raise ModifierError(f"rule {rule_no}: no patch data found")
    kind = kinds[0]
    entries = raw[kind]
    if not isinstance(entries, list):
        raise ModifierError(f"rule {rule_no}: {kind} must be a list")
    patches: list[Any] = []
    if kind == "patches":
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ModifierError(f"rule {rule_no}: each patch must be an object")
            operation = str(entry.get("operation") or "")
            if not operation:
                raise ModifierError(f"rule {rule_no}: operation cannot be empty")
            if operation.lower() not in _OPERATIONS:
                raise ModifierError(f"rule {rule_no}: unsupported operation {operation}")
            if not entry.get("path"):
                raise ModifierError(f"rule {rule_no}: path cannot be empty")
            op: dict[str, Any] = {"op": operation.lower(), "path": str(entry["path"])}
            if entry.get("from"):
                op["from"] = str(entry["from"])
            op["value"] = velero_patch_value(_text(entry.get("value", "")))
            patches.append(op)
    else:
        patches = [_patch_data(rule_no, kind, e) for e in entries]
    return ModifierRule(
        group_resource=group_resource,
        namespaces=tuple(namespaces),
        name_regex=regex,
        selector=selector,
        matches=tuple(matches),
        kind={"patches": "json", "mergePatches": "merge", "strategicPatches": "strategic"}[kind],
        patches=tuple(patches),
    )


def parse_resource_modifiers(text: str) -> ModifierRules:
    """Parse and validate a document (Velero's unmarshalResourceModifiers + Validate); raises
    ModifierError naming the rule (1-based) and the problem."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModifierError(f"failed to decode yaml data into resource modifiers: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise ModifierError("resource modifiers must be a YAML object with version and resourceModifierRules")
    unknown = set(doc) - {"version", "resourceModifierRules"}
    if unknown:
        raise ModifierError(f"unknown field {min(unknown)!r}")
    version = str(doc.get("version") or "")
    if version.lower() != SUPPORTED_VERSION:
        raise ModifierError(f"unsupported resource modifier version {version}")
    rules = doc.get("resourceModifierRules")
    if not isinstance(rules, list) or not rules:
        raise ModifierError("resource modifier rules cannot be empty")
    return ModifierRules(version, tuple(_rule(i + 1, r) for i, r in enumerate(rules)))
