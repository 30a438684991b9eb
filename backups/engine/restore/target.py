"""The cluster a restore writes to, as the engine sees it (`backups.kube.KubeSource` implements it).

Reads (`resources`, `get`, `list`) are all a dry run uses; a restore also creates and patches
objects, reads discovery again once CRDs are in (`refresh`) and runs post-restore hooks (`exec`).
Failures raise `backups.engine.source.SourceError` with the HTTP status (409 for AlreadyExists).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import Protocol

from backups.engine.planning.resources import ResourceInfo, ResourceTable
from backups.engine.source import ExecOutcome

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class RestoreTarget(Protocol):
    def resources(self) -> ResourceTable:
        """Every served resource at its preferred version (cached)."""

    def refresh(self) -> ResourceTable:
        """Discovery again (after CRDs were created): the new custom resources appear."""

    def list(
        self, resource: ResourceInfo, namespace: str | None = None, label_selector: str | None = None
    ) -> Iterator[dict]:
        """Objects as raw JSON dicts, page by page."""

    def get(self, resource: ResourceInfo, namespace: str | None, name: str) -> dict | None:
        """One object, or None when it does not exist."""

    def create(self, resource: ResourceInfo, namespace: str | None, obj: dict) -> dict:
        """Create; SourceError(status=409) when it exists."""

    def patch(
        self,
        resource: ResourceInfo,
        namespace: str | None,
        name: str,
        patch: dict | builtins.list,
        *,
        patch_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> dict:
        """Patch one object (or its `status` subresource); returns the object as stored."""

    def exec(
        self, namespace: str, pod: str, container: str | None, command: Sequence[str], timeout: float
    ) -> ExecOutcome:
        """Run a command in a container (post-restore hooks); never raises for remote failures."""
