from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backups import preview, services
from backups.models import BackupDefinition, Cluster
from backups.permissions import operator_required
from backups.views import selectors

BLOCKS_PER_PAGE = 50


def _request_or_404(token):
    try:
        return preview.read_request(token)
    except (preview.PreviewNotFound, OSError) as error:
        raise Http404("no such preview") from error


@operator_required
def preview_page(request, token):
    """The plan: polls (htmx) until the job is done, then counts, largest blocks, a page of blocks
    and the item search."""
    plan_request = _request_or_404(token)
    status = preview.read_status(token)
    context = {
        "token": token,
        "plan_request": plan_request,
        "cluster": Cluster.objects.filter(pk=plan_request["cluster"]).first(),
        "status": status,
    }
    if status["state"] == "done":
        summary = preview.read_summary(token)
        page = selectors.page_of(range(summary["blocks"]), request.GET.get("page"), BLOCKS_PER_PAGE)
        start = page.start_index() - 1 if summary["blocks"] else 0
        query = request.GET.get("q", "")
        context |= {
            "summary": summary,
            "page": page,
            "blocks": preview.read_blocks(token, start, BLOCKS_PER_PAGE) if summary["blocks"] else [],
            "q": query,
            "found": preview.find_items(token, query) if query else None,
        }
    template = "backups/partials/preview_body.html" if request.htmx else "backups/preview.html"
    return render(request, template, context)


@operator_required
def preview_block(request, token, index):
    """One block as a graph of its items (edges: why an item joined), with its pods' hooks."""
    plan_request = _request_or_404(token)
    try:
        block = preview.read_block(token, index)
    except (preview.PreviewNotFound, OSError) as error:
        raise Http404("no such block") from error
    context = {
        "token": token,
        "plan_request": plan_request,
        "block": block,
        "graph": preview.block_graph(block),
    }
    return render(request, "backups/preview_block.html", context)


@require_POST
@operator_required
def preview_backup_now(request, token):
    """Back up now with the previewed options."""
    plan_request = _request_or_404(token)
    cluster = Cluster.objects.filter(pk=plan_request["cluster"]).first()
    if cluster is None:
        raise Http404("the cluster of this preview is gone")
    fields = dict(plan_request["fields"])
    if not BackupDefinition.objects.filter(pk=fields.get("definition_id") or 0).exists():
        fields.pop("definition_id", None)  # not previewed from a definition, or deleted since
    token = request.POST.get("request_token", "")[:64]
    backup = services.create_backup_now(plan_request["prefix"], cluster, request_token=token, **fields)
    return redirect("backups:detail", pk=backup.pk)
