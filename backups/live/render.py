"""The live parts of a backup's page, rendered from the same partials for the page, htmx and the
WebSocket. Over the socket every top-level element carries `hx-swap-oob` and replaces its id."""

from __future__ import annotations

from collections.abc import Callable

from django.template.loader import render_to_string

from backups import queries
from backups.live.progress import BACKUP, RESTORE
from backups.models import Backup, Restore
from backups.permissions import can_download, can_operate


def summary_context(backup: Backup, user) -> dict:
    return {
        "backup": backup,
        "progress": queries.progress_of(backup),
        "hooks": queries.hook_timeline(backup),
        "log_entries": queries.log_tail(backup),
        "problems": queries.problems_by_namespace(backup),
        "can_operate": can_operate(user),
        "can_download": can_download(user),  # the tarball and hook output (Secrets may show)
    }


SUMMARY_PARTIALS = [
    "backups/partials/backup_header.html",
    "backups/partials/progress.html",
    "backups/partials/done.html",
]
DETAIL_PARTIALS = [
    "backups/partials/hooks.html",
    "backups/partials/log_tail.html",
    "backups/partials/problems.html",
]


def live_fragments(backup_id: int, user, page: int, indexes=None, details: bool = True) -> list[str] | None:
    """WebSocket messages of OOB fragments: the summary (with `details`, also the hook timeline,
    log tail and problems), then, when any of `indexes` is on blocks page `page` (or `indexes` is
    None), that page's rows as one `<tbody>` swap. A whole tbody, in a message of its own: htmx's
    ws extension does not swap every one of several `<tr>` sent together, and a page opened before
    the plan existed has no rows to swap. None when the backup no longer exists."""
    backup = Backup.objects.select_related("cluster", "storage_location").filter(pk=backup_id).first()
    if backup is None:
        return None
    context = {**summary_context(backup, user), "oob": True}
    parts = [render_to_string(name, context) for name in SUMMARY_PARTIALS]
    if details:
        parts += [render_to_string(name, context) for name in DETAIL_PARTIALS]
    messages = ["\n".join(parts)]
    visible = queries.page_range(page)
    # a backup that just ended (a cancel marks its unfinished blocks) shows its rows as they are now
    if indexes is None or any(i in visible for i in indexes) or (details and backup.is_terminal):
        rows = queries.blocks_by_index(backup_id, visible)
        if rows:
            body = "".join(render_to_string("backups/partials/block_row.html", {"block": b}) for b in rows)
            messages.append(f'<tbody id="blocks-body" hx-swap-oob="true">{body}</tbody>')
    return messages


def restore_context(restore: Restore, user) -> dict:
    """What a restore's page and its live fragments show: phase, progress per tier and item
    counts, warnings and errors per namespace, hooks, the log."""
    return {
        "restore": restore,
        "progress": queries.restore_progress(restore),
        "tiers": queries.restore_tiers(restore),
        "hooks": queries.restore_hooks(restore),
        "log_entries": queries.restore_log_tail(restore),
        "problems": queries.restore_problem_counts(restore),
        "warnings_by_scope": queries.restore_problems_by_scope(restore, "warning", limit=200),
        "errors_by_scope": queries.restore_problems_by_scope(restore, "error", limit=200),
        "can_operate": can_operate(user),
        "can_download": can_download(user),
    }


RESTORE_PARTIALS = [
    "backups/partials/restore_header.html",
    "backups/partials/restore_progress.html",
    "backups/partials/restore_outcome.html",
    "backups/partials/restore_tiers.html",
    "backups/partials/restore_results.html",
    "backups/partials/hooks.html",
    "backups/partials/log_tail.html",
]


def restore_fragments(
    restore_id: int, user, page: int, indexes=None, details: bool = True
) -> list[str] | None:
    """A restore's page as OOB fragments, in one message (a restore has no block rows: its
    tiers carry the counts). None when the restore no longer exists."""
    restore = Restore.objects.select_related("cluster", "backup").filter(pk=restore_id).first()
    if restore is None:
        return None
    context = {**restore_context(restore, user), "oob": True}
    return ["\n".join(render_to_string(name, context) for name in RESTORE_PARTIALS)]


# One renderer per run kind: (run id, user, blocks page, indexes=, details=) -> the WebSocket
# messages, or None when the run no longer exists.
RENDERERS: dict[str, Callable[..., list[str] | None]] = {BACKUP: live_fragments, RESTORE: restore_fragments}
