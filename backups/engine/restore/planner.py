"""Planning a restore: the backed-up items in Velero's priority tiers, each with its action.
Implemented in the next commit; the interface is final."""

from __future__ import annotations

from .contents import BackupContents
from .plan_types import RestorePlan
from .spec import RestoreSpec
from .target import RestoreTarget


def plan_restore(
    contents: BackupContents,
    spec: RestoreSpec,
    target: RestoreTarget,
    *,
    dry_run: bool,
    restore_name: str = "",
) -> RestorePlan:
    """Every object of `contents` in its tier with its action (see PlannedItem); a dry run reads
    the target (get/list only) to say skip/conflict/update with diffs."""
    raise NotImplementedError
