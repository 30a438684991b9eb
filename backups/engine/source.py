"""Where the engine reads cluster objects from: a live API server or a set of manifests.

The engine sees only these protocols, so it runs the same against a cluster (backups.kube) and,
for planning, offline against a `kubectl get -A -o yaml` dump (backups.engine.manifests.reader):
`Source` reads (planning needs no more); `LiveSource` also creates and deletes objects (CSI
snapshots) and runs commands in containers (hooks), as running a block does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from backups.engine.planning.resources import ResourceInfo, ResourceTable


class SourceError(Exception):
    """A read that failed: names the resource and namespace so the log line is useful."""

    def __init__(self, message: str, *, resource: str = "", namespace: str = "", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.namespace = namespace
        self.status = status

    def __str__(self) -> str:
        where = self.resource or "?"
        if self.namespace:
            where += f" in namespace {self.namespace}"
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{where}: {self.message}{status}"


class Source(Protocol):
    def resources(self) -> ResourceTable:
        """Every served resource at its preferred version, in discovery order."""

    def list(
        self, resource: ResourceInfo, namespace: str | None = None, label_selector: str | None = None
    ) -> Iterator[dict]:
        """Objects as raw JSON dicts with `apiVersion` and `kind` set, in (namespace, name) order.

        `namespace=None` lists across all namespaces (and is the only form for cluster-scoped
        resources). Raises SourceError naming the resource and namespace.
        """

    def get(self, resource: ResourceInfo, namespace: str | None, name: str) -> dict | None:
        """One object as raw JSON, or None when it does not exist. Raises SourceError otherwise."""


class ExecOutcome(Protocol):
    """What running a command in a container gives; `backups.kube.execution.ExecResult` has this shape."""

    exit_code: int | None
    stdout: str
    stderr: str
    error: str | None
    timed_out: bool
    duration: float


class LiveSource(Source, Protocol):
    """A live cluster: besides reading, running a block writes snapshot objects and runs hooks."""

    def create(self, resource: ResourceInfo, namespace: str | None, obj: dict) -> dict:
        """Create an object and return it as the server stored it. Raises SourceError."""

    def delete(self, resource: ResourceInfo, namespace: str | None, name: str) -> bool:
        """Delete an object; False when it did not exist. Raises SourceError."""

    def exec(
        self, namespace: str, pod: str, container: str | None, command: Sequence[str], timeout: float
    ) -> ExecOutcome:
        """Run a command in a container; never raises for remote failures (see ExecOutcome.error)."""
