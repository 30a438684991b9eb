"""A whole restore in one process (tests, the bench), as `sequential_backup.run_local_backup` is for
backups. Implemented in the next commit; the interface is final."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .item import ItemOutcome
from .plan_types import RestorePlan
from .results import RestoreResults
from .spec import RestoreSpec
from .target import RestoreTarget


@dataclass
class LocalRestoreResult:
    name: str
    phase: str
    plan: RestorePlan
    results: RestoreResults
    outcomes: list[ItemOutcome] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0


def run_local_restore(
    tarball: str,
    spec: RestoreSpec,
    target: RestoreTarget,
    name: str,
    work_dir: str,
    *,
    backup: dict | None = None,
    volume_infos: list[dict] | None = None,
    out_dir: str | None = None,
    clock: Callable[[], float] = time.time,
) -> LocalRestoreResult:
    """Restore `tarball` into `target`: tiers in order, a tier's items on `spec.workers` threads,
    CRDs established before the next tier, post-restore hooks waited for; the restore's files
    written into `out_dir` (default `<work_dir>/restores/<name>`)."""
    raise NotImplementedError
