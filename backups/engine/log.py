"""The structured backup log: every warning and error is an entry, counted as Velero counts log lines."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class LogEntry:
    level: str  # "info" | "warning" | "error"
    message: str
    resource: str = ""  # group resource, e.g. "pods" or "deployments.apps"
    namespace: str = ""
    name: str = ""
    time: float = field(default_factory=time.time)

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
        entry = LogEntry(level, message, **where)
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
