"""Storage locations (admins only): add and edit (the form checks access before saving), the
location's page with its settings (credentials masked), its status and "Check access", "Set default",
and a read-only browse of the backups found there, which can be imported into the history."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.engine.storage import StorageError
from backups.forms import StorageLocationForm
from backups.models import StorageLocation
from backups.permissions import admin_required
from backups.services import imports, locations

BACKUPS_PER_PAGE = 50


@admin_required
def location_edit(request, pk=None):
    instance = get_object_or_404(StorageLocation, pk=pk) if pk else None
    form = StorageLocationForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        location = locations.location_save(form.save(commit=False))
        messages.success(request, f"Storage location {location.name} saved; access checked.")
        return redirect("backups:location", pk=location.pk)
    context = {"form": form, "what": "Storage location", "instance": instance}
    return render(request, "backups/settings_form.html", context)


@admin_required
def location_page(request, pk):
    location = get_object_or_404(StorageLocation, pk=pk)
    context = {"location": location, "credentials": locations.credentials_shown(location)}
    try:
        page = queries.page_of(imports.backup_names(location), request.GET.get("page"), BACKUPS_PER_PAGE)
        context.update(page=page, found=imports.discover(location, page.object_list))
    except (StorageError, ValueError) as error:
        context["browse_error"] = str(error)
    return render(request, "backups/location.html", context)


@require_POST
@admin_required
def location_check(request, pk):
    """htmx: the status partial, checked now; a plain POST goes back to the page."""
    location = get_object_or_404(StorageLocation, pk=pk)
    location.check_access()
    if request.htmx:
        return render(request, "backups/partials/location_status.html", {"location": location})
    return redirect("backups:location", pk=pk)


@require_POST
@admin_required
def location_default(request, pk):
    location = get_object_or_404(StorageLocation, pk=pk)
    try:
        locations.set_default(location)
    except locations.ReadOnlyDefault as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{location.name} is now the default storage location.")
    return redirect("backups:location", pk=pk)


@require_POST
@admin_required
def location_import(request, pk):
    """Import one backup (`name`) or every importable one (`all`); never writes to the location."""
    location = get_object_or_404(StorageLocation, pk=pk)
    try:
        if request.POST.get("all"):
            imported, skipped = imports.import_all(location)
            messages.success(request, f"Imported {len(imported)} backup(s) from {location.name}.")
            for reason in skipped:
                messages.info(request, f"Not imported: {reason}")
        else:
            result = imports.import_backup(location, request.POST.get("name", ""))
            (messages.success if result.created else messages.info)(request, result.message)
    except (imports.ImportProblem, StorageError, ValueError) as error:
        messages.error(request, str(error))
    return redirect("backups:location", pk=pk)
