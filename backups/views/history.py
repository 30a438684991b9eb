from django.shortcuts import render

from backups import queries
from backups.forms import HistoryFilterForm
from backups.models import Cluster
from backups.permissions import viewer_required


@viewer_required
def home(request):
    """The backups history, newest first, with filters; the registered clusters below."""
    form = HistoryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    backups = queries.backup_history(**filters)
    page = queries.page_of(backups, request.GET.get("page"), queries.BACKUPS_PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "clusters": Cluster.objects.all()}
    if request.htmx:
        return render(request, "backups/partials/history_table.html", context)
    return render(request, "backups/history.html", context)
