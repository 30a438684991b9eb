"""The live parts of a backup's page, rendered from the same partials for the page, htmx and the
WebSocket. Over the socket every top-level element carries `hx-swap-oob` and replaces its id."""

from __future__ import annotations

from collections.abc import Callable

from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils.html import escape

from backups import queries
from backups.live.progress import BACKUP, RESTORE
from backups.models import Backup, Restore
from backups.permissions import can_download, can_operate
from backups.runs import timings
from backups.templatetags.veloweb import phase_class


def summary_context(backup: Backup, user, where: queries.BlockFilter | None = None) -> dict:
    where = where or queries.BlockFilter()
    return {
        "backup": backup,
        "progress": queries.progress_of(backup),
        "running_hooks": [] if backup.is_terminal else queries.running_hooks(backup),
        "block_filter": where,
        "blocks_matching": queries.filtered_blocks(backup.pk, where).count() if where.active else None,
        "timings": timings.breakdown(backup),
        "hooks": queries.hook_timeline(backup),
        "log_entries": queries.log_tail(backup),
        "problems": queries.problems_by_namespace(backup),
        "can_operate": can_operate(user),
        "can_download": can_download(user),  # the tarball and hook output (Secrets may show)
    }


SUMMARY_PARTIALS = [
    "backups/partials/backup_header.html",
    "backups/partials/progress.html",
    "backups/partials/running_hooks.html",
    "backups/partials/blocks_heading.html",
    "backups/partials/done.html",
]
DETAIL_PARTIALS = [
    "backups/partials/timings.html",
    "backups/partials/hooks.html",
    "backups/partials/log_tail.html",
    "backups/partials/problems.html",
]


def live_fragments(
    backup_id: int, user, page: int, indexes=None, details: bool = True, where=None
) -> list[str] | None:
    """WebSocket messages of OOB fragments: the summary (with `details`, also the timings, hook
    timeline, log tail and problems), then, when any of `indexes` is on blocks page `page` (or
    `indexes` is None), that page's rows as one `<tbody>` swap. A whole tbody, in a message of its
    own: htmx's ws extension does not swap every one of several `<tr>` sent together, and a page
    opened before the plan existed has no rows to swap. With a blocks filter (`where`), rows move
    in and out of the page as their state changes: the page is rendered again on any change.
    None when the backup no longer exists."""
    backup = Backup.objects.select_related("cluster", "storage_location").filter(pk=backup_id).first()
    if backup is None:
        return None
    where = where or queries.BlockFilter()
    context = {**summary_context(backup, user, where), "oob": True}
    parts = [render_to_string(name, context) for name in SUMMARY_PARTIALS]
    if details:
        parts += [render_to_string(name, context) for name in DETAIL_PARTIALS]
    messages = ["\n".join(parts)]
    if where.active:
        if indexes is None or indexes or details:
            rows = queries.filtered_page_rows(backup_id, page, where)
            body = "".join(render_to_string("backups/partials/block_row.html", {"block": b}) for b in rows)
            messages.append(f'<tbody id="blocks-body" hx-swap-oob="true">{body or _NO_MATCH}</tbody>')
        return messages
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
    "backups/partials/restore_log.html",
]


def restore_fragments(
    restore_id: int, user, page: int, indexes=None, details: bool = True, where=None
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
_NO_MATCH = '<tr><td colspan="9" class="empty">No block matches the filter.</td></tr>'


def history_fragments(query: QueryDict, user, shown: list[int], changed) -> tuple[list[str], list[int]]:
    """The history page's live update: (WebSocket messages, the ids now shown). When the page (its
    filters, sort and number in `query`) still shows the backups `shown`, the rows of the `changed`
    among them, one message each (htmx's ws extension swaps one `<tr>` per message reliably);
    when a backup came, went or moved, the whole table body in one message."""
    from backups.views.history import history_rows

    rows, can_operate_ = history_rows(query, user)
    ids = [b.pk for b in rows]
    context = {"can_operate": can_operate_, "oob": True}
    if ids != shown:
        context["page"] = rows
        body = render_to_string("backups/partials/history_body.html", context)
        return [body], ids
    wanted = set(changed)
    return [
        render_to_string("backups/partials/history_row.html", {**context, "backup": b})
        for b in rows
        if b.pk in wanted
    ], ids


LOG_LINES_SENT = 500  # at most this many new lines per message; the next message sends more


def log_fragments(backup_id: int, where, after: int, follow: bool) -> tuple[list[str], int] | None:
    """The full log page's messages: on its last page (`follow`), the lines recorded after id
    `after`, appended to the table; elsewhere only how many came since. The new `after` goes
    with them. None when the backup no longer exists."""
    backup = Backup.objects.filter(pk=backup_id).only("pk", "phase").first()
    if backup is None:
        return None
    phase = (
        f'<span class="badge {phase_class(backup.phase)}" id="log-phase" hx-swap-oob="true">'
        f"{escape(backup.get_phase_display())}</span>"
    )
    messages = [phase]
    if follow:
        lines = queries.log_lines_after(backup_id, where, after, LOG_LINES_SENT)
        if lines:
            after = lines[-1].pk
            row = "backups/partials/log_line.html"
            rows = "".join(render_to_string(row, {"line": line}) for line in lines)
            messages.append(f'<tbody id="log-lines" hx-swap-oob="beforeend">{rows}</tbody>')
    else:
        new = queries.log_lines(backup_id, where).filter(id__gt=after).count()
        if new:
            link = f"?{where.query() + '&' if where.query() else ''}page=last"
            messages.append(
                f'<span id="log-new" class="meta" hx-swap-oob="true"><a href="{escape(link)}">'
                f"{new} new line{'s' if new != 1 else ''}: go to the last page</a></span>"
            )
    return messages, after
