"""Restoring one planned item (Velero's restoreItem). Implemented in the next commit; the
interface is final."""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import RestoreContext
from .hooks import PostHook
from .plan_types import PlannedItem


@dataclass
class ItemOutcome:
    """What restoring one item did: `result` is created/updated/skipped/failed (Velero's resource
    list words), `message` the warning or error text when there is one; `pod` and `post_hooks`
    are a restored pod and its post-restore hooks, for the caller to run (`run_post_restore_hooks`)."""

    item: PlannedItem
    result: str
    message: str = ""
    pod: dict | None = None
    post_hooks: list[PostHook] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # other objects created for it (CSI snapshot objects)


def restore_item(item: PlannedItem, ctx: RestoreContext) -> ItemOutcome:
    """Restore one item. Callable from several threads at once (one item each)."""
    raise NotImplementedError
