from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render

from backups import queries
from backups.backup_describe import describe
from backups.engine import storage
from backups.engine.velero_format.layout import backup_file_key, backup_file_name
from backups.live.render import summary_context
from backups.models import Backup
from backups.permissions import can_download, operator_required, viewer_required
from backups.runs import removal
from backups.services import backups as backup_services

DOWNLOADS = {"tarball": "tarball", "logs": "log", "results": "results", "resource-list": "resource-list"}
CONTENTS = {"tarball"}  # downloads that hold the backed-up objects themselves


def _backup(pk) -> Backup:
    return get_object_or_404(Backup.objects.select_related("cluster", "storage_location"), pk=pk)


def _storage_failure(request, backup: Backup, what: str, error: Exception):
    """Why a file of `backup` cannot be read, said on a page: the location is unreachable (503,
    the reason of a fresh access check, recorded on the location as "Check access" does), or it
    answers but the file is missing (404)."""
    location = backup.storage_location
    problem = location.check_access()
    missing = not problem and isinstance(error, storage.ObjectNotFoundError)
    context = {
        "backup": backup,
        "location": location,
        "what": what,
        "problem": problem or str(error),
        "missing": missing,
    }
    status = 404 if missing else 503
    return render(request, "backups/storage_unavailable.html", context, status=status)


@viewer_required
def backup_detail(request, pk):
    backup = _backup(pk)
    where = queries.BlockFilter.of(request.GET)
    blocks = queries.blocks_page(backup, request.GET.get("page"), where)
    context = {
        **summary_context(backup, request.user, where),
        "blocks": blocks,
        "query": where.query(),
        "block_states": queries.BLOCK_STATES,
        "describe": describe(backup),
    }
    return render(request, "backups/detail.html", context)


@viewer_required
def backup_resources(request, pk):
    backup = _backup(pk)
    finished = backup.phase in (Backup.Phase.COMPLETED, Backup.Phase.PARTIALLY_FAILED)
    if not finished or backup.storage_location is None:
        raise Http404("this backup has no resource list")
    try:
        listing = queries.resource_list(backup)
    except (storage.StorageError, OSError) as error:
        return _storage_failure(request, backup, "resource list", error)
    namespace, resource = request.GET.get("namespace", ""), request.GET.get("resource", "")
    namespaces, resources, entries = queries.browse_resources(listing, namespace, resource)
    page = queries.page_of(entries, request.GET.get("page"), 200)
    context = {
        "backup": backup,
        "namespaces": namespaces,
        "resources": resources,
        "page": page,
        "namespace": namespace,
        "resource": resource,
        "total": sum(len(v) for v in listing.values()),
    }
    return render(request, "backups/resources.html", context)


@viewer_required
def backup_download(request, pk, kind):
    """Logs, results and the resource list for viewers; the tarball (every backed-up object,
    Secrets included) only for those who `can_download`."""
    backup = _backup(pk)
    if kind not in DOWNLOADS or backup.storage_location is None:
        raise Http404("no such file")
    if kind in CONTENTS and not can_download(request.user):
        raise PermissionDenied("operators can download the tarball (or a viewer an admin allowed to)")
    file_kind = DOWNLOADS[kind]
    try:
        stream = backup.storage_location.store().open(backup_file_key(file_kind, backup.name))
    except (storage.StorageError, OSError) as error:
        return _storage_failure(request, backup, DOWNLOADS[kind], error)
    return FileResponse(stream, as_attachment=True, filename=backup_file_name(file_kind, backup.name))


@operator_required
def backup_delete(request, pk):
    """GET asks for confirmation; POST deletes the backup with its stored files (a running one is
    cancelled first and deleted once its running blocks ran their post-hooks)."""
    backup = _backup(pk)
    if request.method == "POST":
        try:
            deferred = backup_services.delete_backup(backup, by=request.user.get_username())
        except (ValueError, storage.StorageError) as error:
            messages.error(request, str(error))
            return redirect("backups:detail", pk=pk)
        if deferred:
            messages.info(request, deferred)
            return redirect("backups:detail", pk=pk)
        if removal.keeps_files(backup):
            messages.success(request, f"Backup {backup.name} removed from the history; its files stay.")
        else:
            messages.success(request, f"Backup {backup.name} deleted.")
        return redirect("backups:home")
    context = {"backup": backup, "keeps_files": removal.keeps_files(backup)}
    return render(request, "backups/confirm_delete.html", context)


@operator_required
def backup_cancel(request, pk):
    """GET asks for confirmation; POST cancels the backup (a no-op, said so, when it ended)."""
    backup = _backup(pk)
    if request.method == "POST":
        outcome = backup_services.cancel_backup(backup, by=request.user.get_username())
        (messages.success if outcome.changed else messages.info)(request, outcome.message)
        return redirect("backups:detail", pk=pk)
    return render(request, "backups/confirm_cancel.html", {"backup": backup})
