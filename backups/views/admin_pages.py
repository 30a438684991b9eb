from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.forms import ClusterForm
from backups.models import Cluster, StorageLocation
from backups.permissions import ROLES, admin_required, assigned_role, can_download
from backups.services import clusters
from backups.services.locations import credentials_shown


@admin_required
def settings_page(request):
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    context = {
        "clusters": Cluster.objects.all(),
        "locations": [
            (location, credentials_shown(location)) for location in StorageLocation.objects.all()
        ],
        "users": [(user, assigned_role(user), can_download(user)) for user in users],
        "me": request.user.pk,
        "roles": ROLES,
        "targets": queries.notification_targets(),
    }
    return render(request, "backups/settings.html", context)


def _edit(request, form_class, instance, what):
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        saved = clusters.cluster_save(form.save(commit=False))
        messages.success(request, f"{what} {saved.name} saved.")
        return redirect("backups:settings")
    return render(request, "backups/settings_form.html", {"form": form, "what": what, "instance": instance})


@admin_required
def cluster_edit(request, pk=None):
    instance = get_object_or_404(Cluster, pk=pk) if pk else None
    return _edit(request, ClusterForm, instance, "Cluster")


@require_POST
@admin_required
def cluster_check(request, pk):
    """Check the cluster now; htmx swaps its row (status, time, the reason when unreachable)."""
    cluster = get_object_or_404(Cluster, pk=pk)
    problem = clusters.check_cluster(cluster)
    if request.htmx:
        return render(request, "backups/partials/cluster_row.html", {"cluster": cluster})
    if problem:
        messages.error(request, f"Cluster {cluster.name} is unreachable: {problem}")
    else:
        messages.success(request, f"Cluster {cluster.name} is reachable.")
    return redirect("backups:settings")
