from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.forms import BackupForm
from backups.models import Backup
from backups.permissions import operator_required
from backups.services import backups as backup_services
from backups.services import definitions, previews


def submit(request, form, definition=None):
    """The answer to a valid define form, by the button pressed: "Save definition" (creating one, or
    updating `definition`), "Preview" or "Back up now". None when the form must be shown again."""
    if "save" in request.POST:
        try:
            saved = definitions.definition_save(
                name=form.cleaned_data["name_prefix"],
                cluster=form.cleaned_data["cluster"],
                fields=form.backup_fields(),
                schedule=form.cleaned_data.get("schedule", ""),
                paused=form.cleaned_data.get("paused", False),
                skip_immediately=form.cleaned_data.get("skip_immediately", False),
                user=request.user,
                definition=definition,
            )
        except definitions.DefinitionExists as error:
            form.add_error("name_prefix", str(error))
            return None
        messages.success(request, f"Definition {saved.name} saved.")
        return redirect("backups:definitions")
    if "preview" in request.POST:
        token = previews.start_preview(
            form.cleaned_data["cluster"],
            form.backup_fields(),
            form.cleaned_data["name_prefix"],
            user=request.user.get_username(),
        )
        return redirect("backups:preview", token=token)
    # queued, or FailedValidation with the reasons (checked again by the service); the same form
    # posted twice gives the same backup
    backup = backup_services.create_backup_now(
        form.cleaned_data["name_prefix"],
        form.cleaned_data["cluster"],
        request_token=form.cleaned_data.get("request_token") or "",
        **form.backup_fields(),
    )
    if backup.phase == Backup.Phase.FAILED_VALIDATION:
        messages.error(request, "; ".join(backup.validation_errors))
    for warnings in form.find_warnings().values():
        for warning in warnings:
            messages.warning(request, warning)
    return redirect("backups:detail", pk=backup.pk)


@operator_required
def new_backup(request):
    """The definition form. "Back up now" creates the backup; "Preview" plans its blocks first;
    "Save definition" keeps the options under a name. `?from=<id>` fills the form in like an
    earlier backup, which makes any backup a definition (an unknown or junk id: the empty form)."""
    if request.method == "POST":
        form = BackupForm(request.POST)
        if form.is_valid() and (response := submit(request, form)):
            return response
        form.find_warnings()
    else:
        source_id = queries.object_id(request.GET.get("from"))
        source = Backup.objects.filter(pk=source_id).first() if source_id else None
        form = BackupForm(initial=BackupForm.initial_from(source) if source else None)
    return render(request, "backups/define.html", {"form": form})


@require_POST
@operator_required
def define_check(request):
    """Inline validation while the form is filled in: each field's errors and the cluster's
    warnings, as out-of-band swaps of the fields' notes (nothing is saved)."""
    form = BackupForm(request.POST)
    form.is_valid()
    form.find_warnings()
    return render(request, "backups/partials/define_notes.html", {"form": form})
