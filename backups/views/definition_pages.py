from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backups import queries
from backups.forms import BackupForm
from backups.models import BackupDefinition
from backups.permissions import can_operate, operator_required, viewer_required
from backups.services import backups as backup_services
from backups.services import definitions, previews, schedules
from backups.views.define import submit


def _definition(pk) -> BackupDefinition:
    return get_object_or_404(BackupDefinition.objects.select_related("cluster", "storage_location"), pk=pk)


def _with_schedule_state(definitions):
    """Each definition with `schedule_state` (cron, next run, the backup it waits for)."""
    now = timezone.now()
    definitions = list(definitions)
    for definition in definitions:
        definition.schedule_state = schedules.state_of(definition, now)
    return definitions


def _row(request, pk):
    """The definition's table row, as the htmx buttons swap it in."""
    (definition,) = _with_schedule_state(queries.definitions_with_last_backup().filter(pk=pk))
    context = {"definition": definition, "can_operate": can_operate(request.user)}
    return render(request, "backups/partials/schedule_row.html", context)


@viewer_required
def definition_list(request):
    """Saved definitions with their schedule, last and next run; operators run, pause, resume,
    preview, edit or delete them."""
    context = {
        "definitions": _with_schedule_state(queries.definitions_with_last_backup()),
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
        form.find_warnings()
    else:
        form = BackupForm(initial=BackupForm.initial_from(definition))
    return render(request, "backups/define.html", {"form": form, "definition": definition})


@require_POST
@operator_required
def definition_backup_now(request, pk):
    """Back up now with the definition: queued (or FailedValidation with the reasons). From the
    schedule row's "Run now" (htmx) the row comes back with the new backup as its last run."""
    token = request.POST.get("request_token", "")[:64]
    backup = backup_services.back_up_definition(_definition(pk), request_token=token)
    if request.htmx:
        return _row(request, pk)
    if backup.validation_errors:
        messages.error(request, "; ".join(backup.validation_errors))
    return redirect("backups:detail", pk=backup.pk)


@require_POST
@operator_required
def definition_preview(request, pk):
    """Plan the definition's blocks; "Back up now" on the preview links the backup to it."""
    definition = _definition(pk)
    fields = {**definition.spec_fields(), "definition_id": definition.pk}
    token = previews.start_preview(
        definition.cluster, fields, definition.name, user=request.user.get_username()
    )
    return redirect("backups:preview", token=token)


@operator_required
def definition_delete(request, pk):
    """GET asks for confirmation; POST deletes the definition (its backups are kept)."""
    definition = _definition(pk)
    if request.method == "POST":
        definitions.definition_delete(definition)
        messages.success(request, f"Definition {definition.name} deleted.")
        return redirect("backups:definitions")
    return render(request, "backups/confirm_delete_definition.html", {"definition": definition})


@require_POST
@operator_required
def definition_pause(request, pk):
    schedules.pause(_definition(pk))
    return _row(request, pk) if request.htmx else redirect("backups:definitions")


@require_POST
@operator_required
def definition_resume(request, pk):
    """Resume; with skip_immediately a run already due is skipped (Velero's skipImmediately)."""
    schedules.resume(_definition(pk))
    return _row(request, pk) if request.htmx else redirect("backups:definitions")
