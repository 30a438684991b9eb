from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import preview, services
from backups.forms import BackupForm
from backups.models import BackupDefinition
from backups.permissions import can_operate, operator_required, viewer_required
from backups.views import selectors
from backups.views.define import submit


def _definition(pk) -> BackupDefinition:
    return get_object_or_404(BackupDefinition.objects.select_related("cluster", "storage_location"), pk=pk)


@viewer_required
def definition_list(request):
    """Saved definitions with their last backup; operators back up, preview, edit or delete them."""
    context = {
        "definitions": selectors.definitions_with_last_backup(),
        "can_operate": can_operate(request.user),
    }
    return render(request, "backups/definitions.html", context)


@operator_required
def definition_edit(request, pk):
    """The define form filled in from the definition; "Save definition" updates it."""
    definition = _definition(pk)
    if request.method == "POST":
        form = BackupForm(request.POST)
        if form.is_valid() and (response := submit(request, form, definition)):
            return response
    else:
        form = BackupForm(initial=BackupForm.initial_from(definition))
    return render(request, "backups/define.html", {"form": form, "definition": definition})


@require_POST
@operator_required
def definition_backup_now(request, pk):
    """Back up now with the definition: queued (or FailedValidation with the reasons)."""
    backup = services.back_up_definition(_definition(pk))
    if backup.validation_errors:
        messages.error(request, "; ".join(backup.validation_errors))
    return redirect("backups:detail", pk=backup.pk)


@require_POST
@operator_required
def definition_preview(request, pk):
    """Plan the definition's blocks; "Back up now" on the preview links the backup to it."""
    definition = _definition(pk)
    fields = {**definition.spec_fields(), "definition_id": definition.pk}
    token = preview.start_preview(
        definition.cluster, fields, definition.name, user=request.user.get_username()
    )
    return redirect("backups:preview", token=token)


@operator_required
def definition_delete(request, pk):
    """GET asks for confirmation; POST deletes the definition (its backups are kept)."""
    definition = _definition(pk)
    if request.method == "POST":
        definition.delete()
        messages.success(request, f"Definition {definition.name} deleted.")
        return redirect("backups:definitions")
    return render(request, "backups/confirm_delete_definition.html", {"definition": definition})
