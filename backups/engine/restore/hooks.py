"""Velero's restore hooks: init containers added to restored pods and post-restore exec hooks.
Implemented in the next commit; the interface is final."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backups.engine.log import BackupLog

from .target import RestoreTarget


class HookSpecProblem(ValueError):
    """A `spec.hooks` entry Velero refuses; the message names the entry and the field."""


@dataclass(frozen=True)
class PostHook:
    """One post-restore exec hook for one pod's container."""

    name: str
    container: str
    command: tuple[str, ...]
    on_error: str = "Continue"  # or "Fail"
    exec_timeout: float = 30.0
    wait_timeout: float = 0.0  # 0: wait as long as the restore runs
    wait_for_ready: bool = False
    source: str = "annotation"  # or the spec's resource hook name


@dataclass
class HookRun:
    pod: str  # namespace/name
    hook: PostHook
    ok: bool
    error: str = ""
    started: float = 0.0
    finished: float = 0.0


def parse_restore_hooks(hooks: Sequence[dict]) -> list:
    """Parse `spec.hooks.resources[]`; raises HookSpecProblem."""
    raise NotImplementedError


def run_post_restore_hooks(
    pod: dict, hooks: Sequence[PostHook], target: RestoreTarget, log: BackupLog, *, clock=None
) -> list[HookRun]:
    """Run one restored pod's post-restore exec hooks as Velero does (see the module docstring)."""
    raise NotImplementedError
