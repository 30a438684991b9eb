"""Inside backups: browse a backup's items, open one (JSON or YAML), find the backups holding an
item, diff two backups, diff one item against the live cluster. Viewers see Secrets redacted;
those who may download the backup (`permissions.can_download`) see them whole."""

from __future__ import annotations

import json
from functools import wraps

import yaml
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from backups import queries
from backups.models import Backup, Cluster
from backups.permissions import can_download, viewer_required
from backups.services import backup_contents as contents
from backups.services import backup_indexes
from backups.services.backup_indexes import ContentsUnavailable, Indexing, open_or_request

FORMATS = ("json", "yaml")


def _backup(pk, request=None) -> Backup:
    found = Backup.objects.select_related("cluster", "storage_location").filter(pk=pk).first()
    if found is None:
        raise Http404(f"there is no backup with id {pk}")
    if request is not None:
        request._contents_backup = found  # for the crumbs of an error page
    return found


def _explained(view):
    """A missing backup or item, a bad parameter, an unreadable location: the page says which
    (404, or 503 when storage or the cluster did not answer), never a bare Not Found."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404 as error:
            problem, status = str(error) or "not found", 404
        except Indexing as error:
            context = {"backup": error.backup, "message": str(error)}
            return render(request, "backups/indexing.html", context, status=error.status)
        except ContentsUnavailable as error:
            problem, status = str(error), error.status
        context = {"backup": getattr(request, "_contents_backup", None), "problem": problem}
        return render(request, "backups/contents_unavailable.html", context, status=status)

    return wrapped


def _item_key(request) -> tuple[str, str, str]:
    resource = request.GET.get("resource", "").strip()
    name = request.GET.get("name", "").strip()
    if not resource or not name:
        raise Http404(
            "an item is named by its resource and name (and namespace): ?resource=&namespace=&name="
        )
    namespace = request.GET.get("namespace", "").strip()
    if any(c in part for part in (resource, namespace, name) for c in "\t\n\r\x00/"):
        raise Http404("a resource, namespace or name holds no tab, line break or '/'")
    return resource, namespace, name


class _BlockDumper(yaml.SafeDumper):
    """YAML as kubectl shows it: multi-line strings as `|` blocks."""


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None  # PyYAML falls back to quotes when a block cannot hold it
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def _render_object(obj, fmt: str) -> str:
    if fmt == "yaml":
        return yaml.dump(
            obj, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120
        )
    return json.dumps(obj, indent=2, ensure_ascii=False)


@viewer_required
@_explained
def backup_items(request, pk):
    """A backup's items by resource type and namespace, searched by name, 100 a page."""
    backup = _backup(pk, request)
    resource, namespace = request.GET.get("resource", ""), request.GET.get("namespace", "")
    q = request.GET.get("q", "").strip()
    index = open_or_request(backup)
    page = contents.items_page(index, resource, namespace, q, contents.page_number(request.GET.get("page")))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "backup": backup,
        "index": index,
        "types": sorted(index.types.items()),
        "namespaces": sorted(index.namespaces.items()),
        "resource": resource,
        "namespace": namespace,
        "q": q,
        "page": page,
        "query": query.urlencode(),
    }
    if request.htmx:
        return render(request, "backups/partials/items_table.html", context)
    return render(request, "backups/items.html", context)


@viewer_required
@_explained
def backup_item(request, pk):
    """One item of a backup, read with one ranged read of the tarball; Secrets redacted unless the
    user may download the backup."""
    backup = _backup(pk, request)
    resource, namespace, name = _item_key(request)
    fmt = request.GET.get("format", "json")
    if fmt not in FORMATS:
        raise Http404(f"unknown format {fmt!r}: json or yaml")
    entry, _ = contents.find_item(backup, resource, namespace, name)
    if entry is None:
        raise Http404(f"backup {backup.name} holds no {resource} {_shown(namespace, name)}")
    obj = contents.read_item(backup, entry)
    reveal = can_download(request.user)
    context = {
        "backup": backup,
        "entry": entry,
        "format": fmt,
        "text": _render_object(contents.shown(entry, obj, reveal), fmt),
        "redacted": not reveal and entry.group_resource == "secrets",
        "item_query": _item_query(entry.group_resource, entry.namespace, entry.name),
        "previous": contents.previous_backup(backup),
    }
    return render(request, "backups/item.html", context)


def _shown(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _item_query(resource: str, namespace: str, name: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"resource": resource, "namespace": namespace, "name": name})


@viewer_required
@_explained
def item_live(request, pk):
    """One backed-up item against the same object in the cluster now."""
    backup = _backup(pk, request)
    resource, namespace, name = _item_key(request)
    entry, _ = contents.find_item(backup, resource, namespace, name)
    if entry is None:
        raise Http404(f"backup {backup.name} holds no {resource} {_shown(namespace, name)}")
    backed_up = contents.read_item(backup, entry)
    diff = contents.live_diff(backup, entry, backed_up, can_download(request.user))
    context = {
        "backup": backup,
        "entry": entry,
        "diff": diff,
        "item_query": _item_query(entry.group_resource, entry.namespace, entry.name),
    }
    return render(request, "backups/item_live.html", context)


@viewer_required
@_explained
def item_search(request):
    """Which backups hold one item, and in which its content changed."""
    raw_resource = request.GET.get("resource", "").strip()
    namespace, name = request.GET.get("namespace", "").strip(), request.GET.get("name", "").strip()
    cluster_id = queries.object_id(request.GET.get("cluster"))
    resource = contents.resolve_resource(raw_resource, contents.known_types() if raw_resource else set())
    holders = None
    if resource and name:
        holders = contents.backups_holding(resource, namespace, name, cluster_id)
    context = {
        "raw_resource": raw_resource,
        "resource": resource,
        "namespace": namespace,
        "name": name,
        "cluster_id": cluster_id,
        "clusters": Cluster.objects.order_by("name"),
        "holders": holders,
        "asked": bool(request.GET),
        "item_query": _item_query(resource, namespace, name),
    }
    return render(request, "backups/item_search.html", context)


@viewer_required
@_explained
def backup_diff(request, pk):
    """This backup against another (`?with=`, by default the previous one of its cluster): the
    items added, removed and changed, the changed ones field by field."""
    backup = _backup(pk, request)
    other_id = request.GET.get("with")
    if other_id:
        number = queries.object_id(other_id)
        if number is None:
            raise Http404(f"'with' must be a backup id, not {other_id!r}")
        other = _backup(number)
    else:
        other = contents.previous_backup(backup)
    candidates = (
        Backup.objects.filter(phase__in=contents.FINISHED)
        .exclude(pk=backup.pk)
        .select_related("cluster")
        .order_by("-started", "-pk")
    )
    if backup.cluster_id:
        candidates = candidates.filter(cluster_id=backup.cluster_id)
    context = {"backup": backup, "other": other, "candidates": candidates[:200]}
    if other is None:
        return render(request, "backups/diff.html", context)
    if other.pk == backup.pk:
        raise Http404("a backup compared with itself has no differences: pick another one")
    old, new = sorted((backup, other), key=lambda b: (b.started or b.created, b.pk))
    status = request.GET.get("status", "")
    if status not in ("", contents.ADDED, contents.REMOVED, contents.CHANGED):
        raise Http404(f"unknown status {status!r}: added, removed or changed")
    resource = request.GET.get("resource", "")
    diff = contents.diff_backups(
        old, new, status=status, resource=resource, number=contents.page_number(request.GET.get("page")),
        reveal=can_download(request.user),
    )  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    context |= {
        "diff": diff,
        "status": status,
        "resource": resource,
        "same_cluster": old.cluster_id is not None and old.cluster_id == new.cluster_id,
        "query": query.urlencode(),
        "types": sorted(set(open_or_request(old).types) | set(open_or_request(new).types)),
    }
    return render(request, "backups/diff.html", context)


@viewer_required
@_explained
def compare(request):
    """Pick two finished backups (from the history): on to the diff of the two."""
    first, second = request.GET.get("backup"), request.GET.get("with")
    if first and second:
        ids = [queries.object_id(first), queries.object_id(second)]
        if None in ids:
            raise Http404("pick two backups to compare (ids)")
        backup = _backup(ids[0], request)
        return redirect(f"/backups/{backup.pk}/diff/?with={_backup(ids[1]).pk}")
    finished = (
        Backup.objects.filter(phase__in=contents.FINISHED)
        .select_related("cluster")
        .order_by("-started", "-pk")[:200]
    )
    finished = list(finished)
    newest = finished[0] if finished else None
    before = next((b for b in finished[1:] if newest and b.cluster_id == newest.cluster_id), None)
    context = {"backups": finished, "newest": newest, "before": before}
    return render(request, "backups/compare.html", context)


@viewer_required
def index_status(request, pk):
    """Polled by the "being indexed" page: 204 while the job runs, then htmx reloads the page."""
    backup = _backup(pk)
    response = HttpResponse(status=204)
    if backup_indexes.index_ready(backup):
        response = HttpResponse(status=200)
        response["HX-Refresh"] = "true"
    return response
