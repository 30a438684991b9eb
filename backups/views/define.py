from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.forms import BackupForm
from backups.models import Backup
from backups.permissions import operator_required
from backups.services import previews


def submit(request, form, definition=None):
    """The answer to a valid define form, by the button pressed: "Save definition" (creating one, or
    updating `definition`), "Preview" or "Back up now". None when the form must be shown again."""
    if "save" in request.POST:
        saved = form.save_definition(request.user, definition)
        if saved is None:
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
    backup = form.create()
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
