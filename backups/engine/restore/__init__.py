"""The restore engine: plain Python, no Django (the Django side, `backups/runs` and services, calls it).

Flow: `BackupContents.open` indexes a backup tarball into a work folder (workers reopen it with
`BackupContents.load`); `plan_restore` puts every object into Velero's priority tiers with its
action (`PlannedItem`; a dry run reads the target read-only and says skip/conflict/update with a
field diff); `restore_item` restores one item (Velero's mutations, built-in restore item actions,
resource modifiers, the existing-resource policy, CSI snapshot objects), callable from lanes, one
item per call; between tiers `wait_for_crds` waits for CRDs to be established; restored pods'
post-restore hooks run with `run_post_restore_hooks`; `RestoreResults` collects warnings and
errors per namespace, and `write_restore_files` writes Velero's three files of a restore.
`run_local_restore` does all of it in one process.
"""

from .contents import BackupContents, BackupEntry, BackupReadError
from .context import RestoreContext
from .crds import wait_for_crds
from .hooks import HookRun, HookSpecProblem, PostHook, parse_restore_hooks, run_post_restore_hooks
from .item import ItemOutcome, restore_item
from .local import LocalRestoreResult, run_local_restore
from .modifiers import ModifierError, parse_resource_modifiers
from .plan_types import (
    ACTIONS,
    CONFLICT,
    CREATE,
    EXCLUDED,
    SKIP,
    UPDATE,
    FieldDiff,
    PlannedItem,
    RestorePlan,
    Tier,
)
from .planner import plan_restore
from .results import RestoreResults, write_restore_files
from .spec import (
    DEFAULT_HIGH_PRIORITIES,
    DEFAULT_LOW_PRIORITIES,
    RestoreSpec,
    parse_priorities,
    restore_spec_problems,
)
from .target import RestoreTarget

__all__ = [
    "ACTIONS",
    "CONFLICT",
    "CREATE",
    "DEFAULT_HIGH_PRIORITIES",
    "DEFAULT_LOW_PRIORITIES",
    "EXCLUDED",
    "SKIP",
    "UPDATE",
    "BackupContents",
    "BackupEntry",
    "BackupReadError",
    "FieldDiff",
    "HookRun",
    "HookSpecProblem",
    "ItemOutcome",
    "LocalRestoreResult",
    "ModifierError",
    "PlannedItem",
    "PostHook",
    "RestoreContext",
    "RestorePlan",
    "RestoreResults",
    "RestoreSpec",
    "RestoreTarget",
    "Tier",
    "parse_priorities",
    "parse_resource_modifiers",
    "parse_restore_hooks",
    "plan_restore",
    "restore_item",
    "restore_spec_problems",
    "run_local_restore",
    "run_post_restore_hooks",
    "wait_for_crds",
    "write_restore_files",
]
