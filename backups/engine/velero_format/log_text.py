"""Velero's log text: the backup log (`<name>-logs.gz`) is written as Velero's server writes it,
with logrus's TextFormatter, so `velero backup logs` readers and tools that parse logrus read ours:

    time="2026-12-05T10:00:00Z" level=info msg="..." backup=velero/shop-1 logSource="..."
        name=db-0 namespace=shop resource=pods      (one line)

`time`, `level` and `msg` first (`msg` left out when empty), then the other fields sorted by
key; a value is written bare when it is made only of letters, digits and `-._/@^+`, else quoted
as Go's `%q` quotes (strconv.Quote). `parse_line` reads such lines back (ours and Velero's).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator

from backups.engine.log import LogEntry

VELERO_NAMESPACE = "velero"  # the `backup=<namespace>/<name>` field names Velero's namespace
_BARE = re.compile(r"[A-Za-z0-9\-._/@^+]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t", "\v": "\\v"}  # fmt: skip


def go_quote(text: str) -> str:
    """`text` as Go's strconv.Quote writes it: printable characters as they are, the usual
    backslash escapes, other control characters as \\xNN, other unprintable ones as \\uNNNN."""
    out = ['"']
    for ch in text:
        escaped = _ESCAPES.get(ch)
        if escaped is not None:
            out.append(escaped)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _value(text: str) -> str:
    return text if _BARE.fullmatch(text) else go_quote(text)


def log_time(timestamp: float) -> str:
    """RFC 3339 in UTC, to the second (logrus's default timestamp format, Velero's server in UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def format_line(
    entry: LogEntry, backup: str, namespace: str = VELERO_NAMESPACE, run_field: str = "backup"
) -> str:
    """One log line (no newline) for `entry` of backup `backup` (of the restore of that name with
    `run_field="restore"`: Velero's restore log names its restore the same way)."""
    fields = {run_field: f"{namespace}/{backup}" if backup else ""}
    for key, value in (
        ("logSource", entry.source),
        ("resource", entry.resource),
        ("namespace", entry.namespace),
        ("name", entry.name),
    ):
        fields[key] = value
    parts = [f"time={_value(log_time(entry.time))}", f"level={_value(entry.level)}"]
    if entry.message:
        parts.append(f"msg={_value(entry.message)}")
    parts += [f"{key}={_value(value)}" for key, value in sorted(fields.items()) if value]
    return " ".join(parts)


def format_lines(entries: Iterable[LogEntry], backup: str, run_field: str = "backup") -> Iterator[bytes]:
    for entry in entries:
        yield (format_line(entry, backup, run_field=run_field) + "\n").encode("utf-8")


_GO_UNESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                 "\\": "\\", '"': '"', "'": "'"}  # fmt: skip


def _unquote(text: str, start: int) -> tuple[str, int]:
    """The Go-quoted string starting at `text[start] == '"'`; its value and the index after it."""
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = text[i + 1 : i + 2]
        if code in _GO_UNESCAPES:
            out.append(_GO_UNESCAPES[code])
            i += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{code} at column {i + 1}")
    raise ValueError("a quoted value is not closed")


def parse_line(line: str) -> dict[str, str]:
    """The fields of one logrus text line, in order: {"time": ..., "level": ..., "msg": ..., ...}.
    Raises ValueError naming the column of what is not `key=value`."""
    fields: dict[str, str] = {}
    i, n = 0, len(line.rstrip("\n"))
    while i < n:
        if line[i] == " ":
            i += 1
            continue
        eq = line.find("=", i)
        if eq < 0 or " " in line[i:eq] or eq == i:
            raise ValueError(f"expected key=value at column {i + 1}")
        key = line[i:eq]
        if eq + 1 < n and line[eq + 1] == '"':
            value, i = _unquote(line, eq + 1)
        else:
            end = line.find(" ", eq + 1)
            end = n if end < 0 else end
            value, i = line[eq + 1 : end], end
        fields[key] = value
    return fields
