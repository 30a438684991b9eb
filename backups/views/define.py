from django.contrib import messages
from django.shortcuts import redirect, render

from backups import preview
from backups.forms import BackupForm
from backups.models import Backup
from backups.permissions import operator_required


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
        token = preview.start_preview(
            form.cleaned_data["cluster"],
            form.backup_fields(),
            form.cleaned_data["name_prefix"],
            user=request.user.get_username(),
        )
        return redirect("backups:preview", token=token)
    backup = form.create()
    if backup.phase == Backup.Phase.FAILED_VALIDATION:
        messages.error(request, "; ".join(backup.validation_errors))
    return redirect("backups:detail", pk=backup.pk)


@operator_required
def new_backup(request):
    """The definition form. "Back up now" creates the backup; "Preview" plans its blocks first;
    "Save definition" keeps the options under a name. `?from=<id>` fills the form in like an
    earlier backup, which makes any backup a definition."""
    if request.method == "POST":
        form = BackupForm(request.POST)
        if form.is_valid() and (response := submit(request, form)):
            return response
    else:
        source = Backup.objects.filter(pk=request.GET.get("from") or 0).first()
        form = BackupForm(initial=BackupForm.initial_from(source) if source else None)
    return render(request, "backups/define.html", {"form": form})
