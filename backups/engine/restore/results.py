"""A restore's warnings, errors and restored items, and Velero's three files of a restore.

`RestoreResults` is Velero's pair of `results.Result` (warnings, errors), each with `velero`,
`cluster` and per-`namespaces` messages, as `velero restore describe` shows them, plus the items
restored with their result for `restore-<name>-resource-list.json.gz` (Velero 1.12's
`{"<apiVersion>/<Kind>": ["ns/name(created)", ...]}`). Thread-safe: lanes add to one instance.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from sys import intern

from backups.engine.log import LogEntry
from backups.engine.velero_format.backup_files import write_gzip_json, write_log_lines
from backups.engine.velero_format.layout import restore_file_name

CREATED, UPDATED, SKIPPED, FAILED = "created", "updated", "skipped", "failed"
COMPLETED, PARTIALLY_FAILED, FAILED_PHASE = "Completed", "PartiallyFailed", "Failed"


def _empty() -> dict:
    return {"velero": [], "cluster": [], "namespaces": {}}


class RestoreResults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.warnings: dict = _empty()
        self.errors: dict = _empty()
        # (apiVersion, kind, namespace, name, result); result one of CREATED..FAILED
        self.items: list[tuple[str, str, str, str, str]] = []

    # ------------------------------------------------------------------ adding

    @staticmethod
    def _add(result: dict, namespace: str | None, message: str) -> None:
        if namespace is None:
            result["velero"].append(message)
        elif namespace == "":
            result["cluster"].append(message)
        else:
            result["namespaces"].setdefault(namespace, []).append(message)

    def warn(self, namespace: str | None, message: str) -> None:
        """A warning about an item of `namespace` ("" for cluster scope, None for Velero itself)."""
        with self._lock:
            self._add(self.warnings, namespace, message)

    def error(self, namespace: str | None, message: str) -> None:
        with self._lock:
            self._add(self.errors, namespace, message)

    def item(self, api_version: str, kind: str, namespace: str, name: str, result: str) -> None:
        entry = (intern(api_version), intern(kind), intern(namespace), name, intern(result))
        with self._lock:
            self.items.append(entry)

    def merge(self, other: dict) -> None:
        """Add a results document (`as_json()` of another instance, e.g. a worker's part)."""
        with self._lock:
            for which, mine in (("warnings", self.warnings), ("errors", self.errors)):
                part = other.get(which) or {}
                mine["velero"].extend(part.get("velero") or [])
                mine["cluster"].extend(part.get("cluster") or [])
                for ns, messages in (part.get("namespaces") or {}).items():
                    mine["namespaces"].setdefault(ns, []).extend(messages)
            self.items.extend(tuple(i) for i in other.get("items") or [])

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _count(result: dict) -> int:
        return (
            len(result["velero"])
            + len(result["cluster"])
            + sum(len(v) for v in result["namespaces"].values())
        )

    @property
    def warning_count(self) -> int:
        return self._count(self.warnings)

    @property
    def error_count(self) -> int:
        return self._count(self.errors)

    def phase(self) -> str:
        """Completed without errors, else PartiallyFailed (Velero's restore controller)."""
        return PARTIALLY_FAILED if self.error_count else COMPLETED

    def results_json(self) -> dict:
        """`restore-<name>-results.gz` content: `{"warnings": R, "errors": R}`, namespaces sorted."""
        with self._lock:
            return {
                "warnings": {
                    **self.warnings,
                    "namespaces": dict(sorted(self.warnings["namespaces"].items())),
                },
                "errors": {**self.errors, "namespaces": dict(sorted(self.errors["namespaces"].items()))},
            }

    def as_json(self) -> dict:
        """Everything, to hand a worker's part to the process that writes the files (`merge`)."""
        doc = self.results_json()
        doc["items"] = [list(i) for i in self.items]
        return doc

    def resource_list(self) -> dict[str, list[str]]:
        """`{"<apiVersion>/<Kind>": ["ns/name(created)", ...]}`, keys and entries sorted."""
        grouped: dict[str, set[str]] = {}
        with self._lock:
            for api_version, kind, namespace, name, result in self.items:
                where = f"{namespace}/{name}" if namespace else name
                grouped.setdefault(f"{api_version}/{kind}", set()).add(f"{where}({result})")
        return {k: sorted(v) for k, v in sorted(grouped.items())}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            for *_rest, result in self.items:
                out[result] = out.get(result, 0) + 1
        return out


def write_restore_files(
    folder: str, name: str, results: RestoreResults, log: Iterable[LogEntry]
) -> dict[str, str]:
    """Write `restore-<name>-logs.gz`, `-results.gz` and `-resource-list.json.gz` into `folder`
    (created); returns kind -> path, for `storage.restore_io.upload_restore_files`."""
    os.makedirs(folder, exist_ok=True)
    files = {
        kind: os.path.join(folder, restore_file_name(kind, name))
        for kind in ("log", "results", "resource-list")
    }
    write_log_lines(files["log"], log, name, run_field="restore")
    write_gzip_json(files["results"], results.results_json())
    write_gzip_json(files["resource-list"], results.resource_list())
    return files
