"""The audit trail in Settings (admins only): browse and filter, export as CSV or JSON. Read
only: no page changes or deletes an entry (the admin site's view is read-only too)."""

from __future__ import annotations

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from backups import queries
from backups.forms import AuditFilterForm
from backups.permissions import admin_required
from backups.services import audit_export


def _filtered(request):
    """The form and its entries; none while the filter is invalid (its errors say why)."""
    form = AuditFilterForm(request.GET or None)
    if not form.is_bound:
        return form, queries.audit_entries()
    if not form.is_valid():
        return form, queries.audit_entries().none()
    return form, queries.audit_entries(**form.cleaned_data)


@require_GET
@admin_required
def audit_page(request):
    form, entries = _filtered(request)
    page = queries.page_of(entries, request.GET.get("page"), queries.AUDIT_PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    if request.htmx and request.htmx.target == "audit":
        return render(request, "backups/partials/audit_table.html", context)
    return render(request, "backups/audit.html", context)


@require_GET
@admin_required
def audit_download(request, fmt):
    """The filtered entries, oldest first, streamed (a year of entries never sits in memory)."""
    if fmt not in audit_export.FORMATS:
        raise Http404("no such export format")
    form, entries = _filtered(request)
    if form.is_bound and not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())
        return HttpResponse(f"Bad filter: {problems}\n", status=400, content_type="text/plain")
    content_type, chunks = audit_export.FORMATS[fmt](entries)
    response = StreamingHttpResponse(chunks, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="veloweb-audit-{stamp}.{fmt}"'
    return response
