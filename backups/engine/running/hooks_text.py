"""`spec.hooks` as an operator types it (the define form, the CLI's `--hooks`/`--hooks-file`): JSON
or YAML, read into plain JSON values. A syntax error says where: line and column, and the line
itself, so a 40-line hooks document is fixed without counting. What the structure means is
`hook_spec`'s job; `line_of` finds the line of the hook a `hook_spec` problem names."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_TEXT = 256 * 1024  # a hooks document is a few hundred lines at most


class HooksTextError(ValueError):
    """The text is neither valid JSON nor valid YAML (or holds what JSON cannot); the message
    names the line and column (1-based) when there is one."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line, self.column = line, column


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe types minus timestamps (`2024-01-01` stays a string, as JSON has no dates)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _where(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    shown = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"line {line}, column {column}" + (f" ({shown!r})" if shown else "")


def _json_error(text: str, error: json.JSONDecodeError) -> HooksTextError:
    return HooksTextError(
        f"invalid JSON at {_where(text, error.lineno, error.colno)}: {error.msg}", error.lineno, error.colno
    )


def _yaml_error(text: str, error: yaml.YAMLError) -> HooksTextError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return HooksTextError(f"invalid YAML: {problem}")
    line, column = mark.line + 1, mark.column + 1
    return HooksTextError(f"invalid YAML at {_where(text, line, column)}: {problem}", line, column)


def _no_aliases(text: str) -> None:
    """Anchors and aliases are refused: a few lines of them expand to gigabytes once stored."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            line, column = event.start_mark.line + 1, event.start_mark.column + 1
            raise HooksTextError(
                f"invalid YAML at {_where(text, line, column)}: aliases (*{event.anchor}) are not accepted",
                line,
                column,
            )


def _plain(value: Any, path: str = "hooks") -> Any:
    """`value` when it is made of JSON's types only (string keys), else HooksTextError naming where."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise HooksTextError(f"{path}: the key {key!r} must be a string (quote it)")
        return {k: _plain(v, f"{path}.{k}") for k, v in value.items()}
    raise HooksTextError(f"{path}: {type(value).__name__} values are not JSON (quote the value)")


def parse_hooks_text(text: str) -> Any:
    """The document in `text` (JSON, or else YAML), as JSON values; None when it is empty. A text
    that starts like JSON and is neither gets JSON's error, any other YAML's. Lines count from
    the text's first, blank or not, as the operator's editor does."""
    if not text.strip():
        return None
    if len(text) > MAX_TEXT:
        raise HooksTextError(f"the hooks are {len(text)} characters long: at most {MAX_TEXT} are accepted")
    json_error = None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        json_error = error
    except RecursionError:
        raise HooksTextError("invalid JSON: nested too deeply") from None
    try:
        _no_aliases(text)
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        if text.lstrip()[:1] in ("{", "["):
            raise _json_error(text, json_error) from None
        raise _yaml_error(text, error) from None
    except RecursionError:
        raise HooksTextError("invalid YAML: nested too deeply") from None
    return _plain(value)


_HOOK_NAME = re.compile(r"^hook '((?:[^'\\]|\\.)*)'")
_POSITION = re.compile(r"^hooks\.resources\[(\d+)\]")


def line_of(text: str, problem: str) -> int | None:
    """The line (1-based) of the `spec.hooks.resources` entry a `hook_spec` problem names (`hook
    'x': ...` or `hooks.resources[2]...`), of its `pre[i]`/`post[i]` entry when the problem names
    one; None when the text or the problem points nowhere."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError):
        return None
    if isinstance(root, yaml.MappingNode):
        root = _get(root, "resources")
    if not isinstance(root, yaml.SequenceNode):
        return None
    entry = None
    if match := _POSITION.match(problem):
        index = int(match.group(1))
        entry = root.value[index] if index < len(root.value) else None
    elif match := _HOOK_NAME.match(problem):
        name = match.group(1).replace("\\'", "'")
        for node in root.value:
            named = _get(node, "name") if isinstance(node, yaml.MappingNode) else None
            if isinstance(named, yaml.ScalarNode) and named.value == name:
                entry = node
                break
    if entry is None:
        return None
    step = re.search(r": (pre|post)\[(\d+)\]", problem)
    phase = _get(entry, step.group(1)) if step and isinstance(entry, yaml.MappingNode) else None
    if step and isinstance(phase, yaml.SequenceNode) and int(step.group(2)) < len(phase.value):
        entry = phase.value[int(step.group(2))]
    return entry.start_mark.line + 1


def _get(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    for name, value in mapping.value:
        if isinstance(name, yaml.ScalarNode) and name.value == key:
            return value
    return None
