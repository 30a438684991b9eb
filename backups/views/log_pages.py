"""A backup's full log: every line, filtered by level and searched in the database, a page at
a time (a log of millions of lines never goes to the browser whole); live while it runs."""

from django.shortcuts import get_object_or_404, render

from backups import queries
from backups.models import Backup
from backups.permissions import viewer_required
from backups.services import stored_logs


@viewer_required
def backup_log(request, pk):
    backup = get_object_or_404(Backup.objects.select_related("cluster", "storage_location"), pk=pk)
    loading = stored_logs.needs_loading(backup)
    if loading:  # imported: its stored log is read into the database once, by a job
        stored_logs.start_loading(backup)
    where = queries.LogFilter.of(request.GET)
    page = queries.log_page(backup, where, request.GET.get("page"))
    lines = list(page)
    last_id = queries.log_lines(backup.pk, queries.LogFilter()).values_list("id", flat=True).last() or 0
    context = {
        "backup": backup,
        "page": page,
        "lines": lines,
        "log_filter": where,
        "levels": queries.LOG_LEVELS[:3],
        "query": where.query(),
        "following": not page.has_next(),
        "loading": loading,
        # the socket appends the lines after the last one shown (on the last page), or counts
        # those after the last one recorded (elsewhere)
        "after": (lines[-1].pk if lines else 0) if not page.has_next() else last_id,
    }
    return render(request, "backups/log.html", context)
