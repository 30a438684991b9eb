from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups.forms import ClusterForm, UserRoleForm
from backups.models import Cluster, StorageLocation
from backups.permissions import DOWNLOADER, ROLES, VIEWER, admin_required, can_download, role_of
from backups.services import clusters
from backups.services.locations import credentials_shown


@admin_required
def settings_page(request):
    users = get_user_model().objects.order_by("username").prefetch_related("groups")
    context = {
        "clusters": Cluster.objects.all(),
        "locations": [(location, credentials_shown(location)) for location in StorageLocation.objects.all()],
        "users": [(user, role_of(user), can_download(user)) for user in users],
        "roles": ROLES,
    }
    return render(request, "backups/settings.html", context)


def _edit(request, form_class, instance, what):
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
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


@require_POST
@admin_required
def user_role(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    form = UserRoleForm(request.POST)
    if form.is_valid() and not user.is_superuser:
        role = form.cleaned_data["role"]
        user.groups.remove(*Group.objects.filter(name__in=(*ROLES, DOWNLOADER)))
        if role:
            user.groups.add(Group.objects.get(name=role))
        downloads = role == VIEWER and form.cleaned_data["downloader"]
        if downloads:
            user.groups.add(Group.objects.get_or_create(name=DOWNLOADER)[0])
        messages.success(
            request,
            f"{user.get_username()} is now {role or 'without access'}"
            + (" and may download tarballs and read hook output." if downloads else "."),
        )
    return redirect("backups:settings")
