from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from backups import queries
from backups.forms import HistoryFilterForm
from backups.models import Backup, Cluster
from backups.permissions import can_operate, operator_required, viewer_required
from backups.runs.removal import keeps_files
from backups.services import backups as backup_services

COLUMNS = [
    ("name", "Name", False),
    ("phase", "Phase", False),
    ("cluster", "Cluster", False),
    ("started", "Started", False),
    ("duration", "Duration", False),
    ("items", "Items", True),
    ("errors", "Errors", True),
    ("warnings", "Warnings", True),
    ("size", "Size", True),
    ("expires", "Expires", False),
]


def _page(params):
    """(the filter form, its sort, the page of backups) of a history query string."""
    form = HistoryFilterForm(params or None)
    filters = form.cleaned_data if form.is_valid() else {}
    backups = queries.backup_history(**filters)
    return (
        form,
        filters.get("sort", ""),
        queries.page_of(backups, params.get("page"), queries.BACKUPS_PER_PAGE),
    )


def history_rows(params, user) -> tuple[list, bool]:
    """The backups the history page of `params` shows now, and whether `user` may select them:
    what the live updates re-render."""
    form, sort, page = _page(params)
    return list(page), can_operate(user)


def history_context(request) -> dict:
    """The history table's context from the request's filters, sort and page (the page, htmx and
    the WebSocket render the same partials)."""
    form, sort, page = _page(request.GET)
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    filters_only = query.urlencode()
    if sort:
        query["sort"] = sort
    live = query.copy()
    live["page"] = str(page.number)
    return {
        "live_query": live.urlencode(),
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "sort": sort,
        "columns": _columns(filters_only, sort),
        "can_operate": can_operate(request.user),
    }


def _columns(filters: str, sort: str) -> list[dict]:
    """Each column's header: its link (the filters kept, the other direction when it is the sort)
    and its aria-sort."""
    columns = []
    for key, label, numeric in COLUMNS:
        current = sort.removeprefix("-") == key
        descending = sort.startswith("-")
        target = f"-{key}" if current and not descending else key
        columns.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "href": f"?{filters + '&' if filters else ''}sort={target}",
                "aria_sort": ("descending" if descending else "ascending") if current else "",
            }
        )
    return columns


@viewer_required
def home(request):
    """The backups history, newest first or sorted by a column, with filters (all in the URL, so
    the Back button restores them); the registered clusters below."""
    context = history_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        # the fragment shares the page's address (htmx pushes it): never kept, so that Back
        # loads the whole page, not this table alone from the browser's cache
        response = render(request, "backups/partials/history_table.html", context)
        add_never_cache_headers(response)
    else:
        response = render(request, "backups/history.html", {**context, "clusters": Cluster.objects.all()})
    patch_vary_headers(response, ["HX-Request"])
    return response


def _selected_ids(data) -> list[int]:
    ids = (queries.object_id(text) for text in data.getlist("ids")[: backup_services.BULK_LIMIT])
    return list(dict.fromkeys(i for i in ids if i is not None))


def _back_to_history(back: str):
    """The history with the filters it was left with (`back` is only ever read as a query)."""
    query = urlencode(parse_qsl(back or "")[:20])
    return redirect(reverse("backups:home") + (f"?{query}" if query else ""))


@operator_required
def bulk_delete(request):
    """GET (the history's checkboxes) lists what goes and what stays, and why; POST deletes the
    ended ones among the confirmed ids through the delete service and says what happened."""
    data = request.POST if request.method == "POST" else request.GET
    ids = _selected_ids(data)
    back = data.get("back", "")
    if request.method == "POST":
        outcome = backup_services.delete_backups(ids, by=request.user.get_username())
        if outcome.deleted:
            messages.success(request, f"Deleted {len(outcome.deleted)}: {', '.join(outcome.deleted)}.")
        for name, why in outcome.skipped:
            messages.info(request, f"{name} was kept: {why}.")
        for name, error in outcome.failed:
            messages.error(request, f"{name} was not deleted: {error}")
        return _back_to_history(back)
    if not ids:
        messages.info(request, "Select the backups to delete first.")
        return _back_to_history(back)
    chosen = list(Backup.objects.select_related("storage_location").filter(pk__in=ids).order_by("name"))
    rows = [(b, backup_services.bulk_deletable(b), keeps_files(b)) for b in chosen]
    context = {
        "going": [(b, keeps) for b, why, keeps in rows if not why],
        "staying": [(b, why) for b, why, keeps in rows if why],
        "back": back,
    }
    return render(request, "backups/confirm_bulk_delete.html", context)
