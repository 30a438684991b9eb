import functools

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.engine.durations import go_duration
from backups.models import BackupDefinition, Cluster
from backups.permissions import operator_required
from backups.services import backups as backup_services
from backups.services import previews

BLOCKS_PER_PAGE = 50
EXCLUDED_PER_PAGE = previews.EXCLUDED_PER_PAGE


class PreviewGone(Exception):
    """The preview does not exist (any more): expired and removed, or never asked for."""


def _request_or_gone(token):
    try:
        return previews.read_request(token)
    except (previews.PreviewNotFound, OSError, ValueError) as error:
        raise PreviewGone(token) from error


def _gone(request):
    """Previews expire (VELOWEB_PREVIEW_TTL): a page saying so, as a 404. To htmx's polling, the
    body saying so, as a 200, as htmx swaps in no error response and the page would wait forever."""
    context = {"ttl": go_duration(settings.VELOWEB_PREVIEW_TTL)}
    if request.htmx:
        return render(request, "backups/partials/preview_gone.html", context)
    return render(request, "backups/preview_gone.html", context, status=404)


def _or_gone(view):
    """The view, or the "gone" page when its preview is missing, or removed while being read."""

    @functools.wraps(view)
    def wrapper(request, token, *args, **kwargs):
        try:
            return view(request, token, *args, **kwargs)
        except PreviewGone:
            return _gone(request)

    return wrapper


@operator_required
@_or_gone
def preview_page(request, token):
    """The plan: polls (htmx) until the job is done, then counts, largest blocks, a page of blocks
    and the item search."""
    plan_request = _request_or_gone(token)
    try:
        return _preview_page(request, token, plan_request)
    except (previews.PreviewNotFound, OSError, ValueError) as error:  # expired while being read
        raise PreviewGone(token) from error


def _preview_page(request, token, plan_request):
    status = previews.read_status(token)
    context = {
        "token": token,
        "plan_request": plan_request,
        "cluster": Cluster.objects.filter(pk=plan_request["cluster"]).first(),
        "status": status,
    }
    if status["state"] == "done":
        summary = previews.read_summary(token)
        page = queries.page_of(range(summary["blocks"]), request.GET.get("page"), BLOCKS_PER_PAGE)
        start = page.start_index() - 1 if summary["blocks"] else 0
        query = request.GET.get("q", "")
        context |= {
            "summary": summary,
            "page": page,
            "blocks": previews.read_blocks(token, start, BLOCKS_PER_PAGE) if summary["blocks"] else [],
            "q": query,
            "found": previews.find_items(token, query) if query else None,
        }
    template = "backups/partials/preview_body.html" if request.htmx else "backups/preview.html"
    return render(request, template, context)


@operator_required
@_or_gone
def preview_block(request, token, index):
    """One block as a graph of its items (edges: why an item joined), with its pods' hooks."""
    plan_request = _request_or_gone(token)
    try:
        block = previews.read_block(token, index)
    except previews.PreviewNotFound as error:
        raise Http404("no such block") from error
    except (OSError, ValueError) as error:  # expired while being read
        raise PreviewGone(token) from error
    context = {
        "token": token,
        "plan_request": plan_request,
        "plan_block": {**block, "index": index, "size": len(block["items"])},
        "graph": previews.block_graph(block),
    }
    return render(request, "backups/preview_block.html", context)


@operator_required
@_or_gone
def preview_excluded(request, token):
    """The items the backup would leave out, a page at a time, each with the rule that does; the
    most frequent reasons and the types never listed above them."""
    plan_request = _request_or_gone(token)
    try:
        if previews.read_status(token)["state"] != "done":
            return redirect("backups:preview", token=token)
        summary = previews.read_summary(token)
        page = queries.page_of(range(summary["excluded"]), request.GET.get("page"), EXCLUDED_PER_PAGE)
        start = page.start_index() - 1 if summary["excluded"] else 0
        items = previews.read_excluded(token, start, EXCLUDED_PER_PAGE)
    except (previews.PreviewNotFound, OSError, ValueError) as error:  # expired while being read
        raise PreviewGone(token) from error
    context = {"token": token, "plan_request": plan_request, "summary": summary, "page": page, "items": items}
    return render(request, "backups/preview_excluded.html", context)


@require_POST
@operator_required
@_or_gone
def preview_backup_now(request, token):
    """Back up now with the previewed options."""
    plan_request = _request_or_gone(token)
    cluster = Cluster.objects.filter(pk=plan_request["cluster"]).first()
    if cluster is None:
        raise Http404("the cluster of this preview is gone")
    fields = dict(plan_request["fields"])
    if not BackupDefinition.objects.filter(pk=fields.get("definition_id") or 0).exists():
        fields.pop("definition_id", None)  # not previewed from a definition, or deleted since
    token = request.POST.get("request_token", "")[:64]
    backup = backup_services.create_backup_now(plan_request["prefix"], cluster, request_token=token, **fields)
    return redirect("backups:detail", pk=backup.pk)
