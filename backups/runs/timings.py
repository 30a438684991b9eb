"""Where a backup's time went, recorded by the run machinery and shown on its page: planning
(collect and group), blocks (from the plan to the last batch), hooks (their summed run time and
the longest freeze: from a pod's first pre-hook start to its last post-hook end), snapshots
(summed over the blocks), finalize (assemble and write Velero's files) and upload.

`Backup.timings` holds them in seconds, with `hooked_pods` (pods with hooks in the plan), which
the ETA uses for the hook work left."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Min, Q, Sum

from backups.models import Backup, HookRun

STAGES = (
    ("planning", "Planning"),
    ("blocks", "Blocks"),
    ("hooks", "Hooks"),
    ("longest_freeze", "Longest freeze"),
    ("snapshots", "Snapshots"),
    ("finalize", "Finalize"),
    ("upload", "Upload"),
)


def record(backup_id: int, **values) -> None:
    """Merge `values` into the backup's timings (one writer per stage: dispatch, then finalize)."""
    with transaction.atomic():
        row = Backup.objects.select_for_update().filter(pk=backup_id).values_list("timings", flat=True)
        current = dict(row.first() or {})
        current.update({k: round(v, 3) if isinstance(v, float) else v for k, v in values.items()})
        Backup.objects.filter(pk=backup_id).update(timings=current)


def hook_times(backup_id: int) -> dict:
    """Summed hook run time and the longest freeze of the backup's pods (pod, block, seconds).
    A pod's freeze is grouped by block: a pod is hooked once per backup, in its block."""
    hooks = HookRun.objects.filter(backup_id=backup_id, skipped_reason="")
    total = hooks.aggregate(total=Sum("duration"))["total"] or 0.0
    freezes = (
        hooks.values("block_index", "namespace", "pod")
        .annotate(
            first_pre=Min("started", filter=Q(phase="pre")), last_post=Max("finished", filter=Q(phase="post"))
        )
        .filter(first_pre__isnull=False, last_post__isnull=False)
    )
    longest, pod = 0.0, ""
    for row in freezes.iterator():
        seconds = row["last_post"] - row["first_pre"]
        if seconds > longest:
            longest, pod = seconds, f"{row['namespace']}/{row['pod']}"
    return {"hooks": float(total), "longest_freeze": float(longest), "freeze_pod": pod}


def breakdown(backup: Backup) -> list[tuple[str, float, str]]:
    """(label, seconds, note) of each recorded stage, in order, for the page."""
    timings = backup.timings or {}
    rows = []
    for key, label in STAGES:
        if key in timings:
            note = timings.get("freeze_pod", "") if key == "longest_freeze" else ""
            rows.append((label, float(timings[key]), note))
    return rows
