"""What every step of a restore records: its log's warnings and errors as rows, and the word
to its live page that it changed."""

from __future__ import annotations

import time

from backups.live import progress
from backups.models import RestoreLogEntry
from backups.runs.kinds import RESTORE


def changed(restore_id: int) -> None:
    """The Restore row (phase, counters, tiers) changed: its page re-reads it."""
    progress.run_changed(restore_id, RESTORE.name)


def log_rows(restore_id: int, entries) -> list[RestoreLogEntry]:
    """The warnings and errors of `entries` as rows (info lines stay in the log file)."""
    return [
        RestoreLogEntry(
            restore_id=restore_id,
            level=e.level,
            message=e.message,
            resource=e.resource,
            namespace=e.namespace,
            name=e.name,
            time=e.time,
        )
        for e in entries
        if e.level in ("warning", "error")
    ]


def result_rows(restore_id: int, doc: dict, when: float | None = None) -> list[RestoreLogEntry]:
    """A results document's warnings and errors (`RestoreResults.as_json()`) as rows, under their
    namespace ("" for cluster scope; Velero's own under the resource "velero"), as `velero restore
    describe` groups them."""
    when = when or time.time()
    rows = []
    for level, which in (("warning", "warnings"), ("error", "errors")):
        part = doc.get(which) or {}
        scoped = [("", "velero", m) for m in part.get("velero") or []]
        scoped += [("", "", m) for m in part.get("cluster") or []]
        scoped += [(ns, "", m) for ns, messages in (part.get("namespaces") or {}).items() for m in messages]
        rows += [
            RestoreLogEntry(
                restore_id=restore_id,
                level=level,
                message=message,
                namespace=namespace[:253],
                resource=resource,
                time=when,
            )
            for namespace, resource, message in scoped
        ]
    return rows


def counts_of(doc: dict) -> tuple[int, int]:
    """(warnings, errors) of a results document, counted as Velero counts them."""

    def count(part: dict) -> int:
        namespaces = part.get("namespaces") or {}
        return (
            len(part.get("velero") or [])
            + len(part.get("cluster") or [])
            + sum(map(len, namespaces.values()))
        )

    return count(doc.get("warnings") or {}), count(doc.get("errors") or {})
