"""Restore pages: the form on a backup (with inline checks, the dry run and "Restore"), a saved
dry run, a restore's live page, the restores history; operators restore, viewers read."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.engine.storage import StorageError
from backups.engine.velero_format.layout import restore_file_key, restore_file_name
from backups.forms import RestoreForm, RestoreHistoryFilterForm
from backups.live.render import restore_context
from backups.models import Backup, Cluster, Restore
from backups.permissions import operator_required, viewer_required
from backups.services import restores as restore_services

DRY_RUN_ITEMS_PER_PAGE = 200


def _backup(pk) -> Backup:
    return get_object_or_404(Backup.objects.select_related("cluster", "storage_location"), pk=pk)


def _restore(pk) -> Restore:
    return get_object_or_404(Restore.objects.select_related("cluster", "storage_location", "backup"), pk=pk)


@operator_required
def restore_new(request, pk):
    """The restore form of a backup: "Dry run" previews it, "Restore" starts it."""
    backup = _backup(pk)
    problem = restore_services.not_restorable(backup)
    if problem:
        messages.error(request, problem)
        return redirect("backups:detail", pk=pk)
    if request.method == "POST":
        form = RestoreForm(request.POST, backup=backup)
        if form.is_valid():
            cluster, options = form.cleaned_data["cluster"], form.options()
            if "dry_run" in request.POST:
                try:
                    plan = restore_services.dry_run(backup, cluster, options)
                except ValueError as error:
                    form.add_error(None, str(error))
                else:
                    token = restore_services.save_dry_run(plan, backup, cluster, options)
                    return redirect("backups:restore_dry_run", token=token)
            else:
                try:
                    restore = restore_services.create_restore(
                        form.cleaned_data["name"],
                        backup,
                        cluster,
                        user=request.user,
                        request_token=form.cleaned_data.get("request_token") or "",
                        **options,
                    )
                except ValueError as error:
                    form.add_error("name" if "exists" in str(error) else None, str(error))
                else:
                    if restore.phase == Restore.Phase.FAILED_VALIDATION:
                        messages.error(request, "; ".join(restore.validation_errors))
                    return redirect("backups:restore_detail", pk=restore.pk)
    else:
        form = RestoreForm(backup=backup)
    return render(request, "backups/restore_form.html", {"form": form, "backup": backup})


@require_POST
@operator_required
def restore_check(request, pk):
    """Inline validation while the restore form is filled in (nothing is saved)."""
    form = RestoreForm(request.POST, backup=_backup(pk))
    form.is_valid()
    return render(request, "backups/partials/define_notes.html", {"form": form})


@operator_required
def restore_dry_run(request, token):
    """A saved dry run: counts per action, namespace and type, and the items, filtered (htmx
    swaps the table), each conflict with its field diff."""
    run = restore_services.load_dry_run(token)
    if run is None:
        raise Http404("no such dry run (they are kept until the data folder is cleaned)")
    action = request.GET.get("action", "")
    namespace = request.GET.get("namespace", "")
    resource = request.GET.get("resource", "")
    items = queries.dry_run_items(run.items, action, namespace, resource)
    page = queries.page_of(items, request.GET.get("page"), DRY_RUN_ITEMS_PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "run": run,
        "page": page,
        "query": query.urlencode(),
        "action": action,
        "namespace": namespace,
        "resource": resource,
        "actions": ("create", "skip", "conflict", "update", "excluded"),
        "backup": Backup.objects.filter(name=run.backup).first(),
    }
    if request.htmx:
        return render(request, "backups/partials/dry_run_items.html", context)
    return render(request, "backups/restore_dry_run.html", context)


@require_POST
@operator_required
def restore_from_dry_run(request, token):
    """Restore with the dry run's options (a new name, Velero's default)."""
    run = restore_services.load_dry_run(token)
    if run is None:
        raise Http404("no such dry run")
    backup = Backup.objects.select_related("storage_location").filter(name=run.backup).first()
    cluster = Cluster.objects.filter(name=run.cluster).first()
    if backup is None or cluster is None:
        messages.error(request, "The backup or the cluster of this dry run no longer exists.")
        return redirect("backups:restores")
    try:
        restore = restore_services.create_restore(
            restore_services.default_name(backup),
            backup,
            cluster,
            user=request.user,
            request_token=request.POST.get("request_token", "")[:64],
            **run.options,
        )
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("backups:restore_dry_run", token=token)
    return redirect("backups:restore_detail", pk=restore.pk)


@viewer_required
def restore_history(request):
    form = RestoreHistoryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = queries.page_of(
        queries.restore_history(**filters), request.GET.get("page"), queries.RESTORES_PER_PAGE
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    if request.htmx:
        return render(request, "backups/partials/restore_history_table.html", context)
    return render(request, "backups/restores.html", context)


@viewer_required
def restore_detail(request, pk):
    return render(request, "backups/restore_detail.html", restore_context(_restore(pk), request.user))


@operator_required
def restore_cancel(request, pk):
    restore = _restore(pk)
    if request.method == "POST":
        outcome = restore_services.cancel_restore(restore, by=request.user.get_username())
        (messages.success if outcome.changed else messages.info)(request, outcome.message)
        return redirect("backups:restore_detail", pk=pk)
    return render(request, "backups/confirm_restore.html", {"restore": restore, "what": "cancel"})


@operator_required
def restore_delete(request, pk):
    restore = _restore(pk)
    if request.method == "POST":
        try:
            restore_services.delete_restore(restore)
        except (ValueError, StorageError) as error:
            messages.error(request, str(error))
            return redirect("backups:restore_detail", pk=pk)
        messages.success(request, f"Restore {restore.name} deleted (the restored objects stay).")
        return redirect("backups:restores")
    return render(request, "backups/confirm_restore.html", {"restore": restore, "what": "delete"})


RESTORE_DOWNLOADS = {"logs": "log", "results": "results", "resource-list": "resource-list"}


@viewer_required
def restore_download(request, pk, kind):
    """A finished restore's log, results or resource list from its storage location (Velero's
    `restores/<name>/` files: names and messages, no object's content)."""
    restore = _restore(pk)
    finished = restore.phase in (Restore.Phase.COMPLETED, Restore.Phase.PARTIALLY_FAILED)
    if kind not in RESTORE_DOWNLOADS or not finished or restore.storage_location is None:
        raise Http404("no such file")
    file_kind = RESTORE_DOWNLOADS[kind]
    try:
        stream = restore.storage_location.store().open(restore_file_key(file_kind, restore.name))
    except (StorageError, OSError) as error:
        raise Http404(f"{kind} not found in {restore.storage_location.name}") from error
    return FileResponse(stream, as_attachment=True, filename=restore_file_name(file_kind, restore.name))
