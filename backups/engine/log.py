"""The structured backup log: every warning and error is an entry, counted as Velero counts log lines."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, field

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_sources: dict[str, str] = {}


def _log_source(depth: int) -> str:
    """`path/of/module.py:line` of the code that logged (Velero's `logSource` field), relative to
    the project, as Velero's LogLocationHook names its Go files."""
    frame = sys._getframe(depth + 1)
    filename = frame.f_code.co_filename
    where = _sources.get(filename)
    if where is None:
        where = os.path.relpath(filename, _ROOT) if filename.startswith(_ROOT) else os.path.basename(filename)
        _sources[filename] = where
    return f"{where}:{frame.f_lineno}"


@dataclass(frozen=True, slots=True)
class LogEntry:
    level: str  # "info" | "warning" | "error"
    message: str
    resource: str = ""  # group resource, e.g. "pods" or "deployments.apps"
    namespace: str = ""
    name: str = ""
    time: float = field(default_factory=time.time)
    source: str = ""  # where in our code it was logged (Velero's logSource)

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = "/".join(p for p in (self.namespace, self.name) if p)
        subject = f"{self.resource} {where}".strip()
        return f"{self.level}: {subject + ': ' if subject else ''}{self.message}"


class BackupLog:
    """Collects entries; `errors`/`warnings` count lines at those levels (Velero's LogCounterHook)."""

    def __init__(self, sink=None):
        self.entries: list[LogEntry] = []
        self._sink = sink

    def _add(self, level: str, message: str, **where) -> LogEntry:
        entry = LogEntry(level, message, **where, source=_log_source(2))
        self.entries.append(entry)
        if self._sink is not None:
            self._sink(entry)
        return entry

    def extend(self, entries: list[LogEntry]) -> None:
        """Entries written elsewhere (a hook thread's own log), appended in their order."""
        for entry in entries:
            self.entries.append(entry)
            if self._sink is not None:
                self._sink(entry)

    def info(self, message: str, **where) -> LogEntry:
        return self._add("info", message, **where)

    def warning(self, message: str, **where) -> LogEntry:
        return self._add("warning", message, **where)

    def error(self, message: str, **where) -> LogEntry:
        return self._add("error", message, **where)

    @property
    def errors(self) -> int:
        return sum(1 for e in self.entries if e.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for e in self.entries if e.level == "warning")
