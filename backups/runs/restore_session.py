"""What each process of a restore opens once: the indexed backup in its staging folder and the
target cluster, as the engine's `RestoreContext` (a lane's batches, the wait for CRDs between
tiers and finalize's hooks each build their own from ids)."""

from __future__ import annotations

from backups.engine.restore import BackupContents, PlannedItem, RestoreContext
from backups.models import Restore
from backups.runs.staging import Staging
from backups.validation import restore_spec

CONTENTS = "contents"  # the indexed backup, under the staging folder


def contents_folder(staging: Staging) -> str:
    return str(staging.root / CONTENTS)


def open_context(restore: Restore, staging: Staging) -> RestoreContext:
    """The restore's context on a fresh client of its cluster (the caller closes `ctx.target`).
    Raises SourceError/ValueError/OSError when the cluster cannot be reached, BackupReadError
    when the staging folder lost the indexed backup."""
    contents = BackupContents.load(contents_folder(staging))
    target = restore.cluster.connect()
    return RestoreContext(
        restore_name=restore.name,
        spec=restore_spec(restore.options(), restore.backup_name),
        contents=contents,
        target=target,
    )


def item_row(item: PlannedItem) -> list:
    """A planned item as a batch file keeps it (PlannedItem's fields, without the diff)."""
    return list(item._replace(diff=()))


def item_of(row: list) -> PlannedItem:
    return PlannedItem(*row[:7], tuple(row[7]), *row[8:])
