"""Notification targets in Settings (admins only): add, edit, delete, *Send test*, and the log of
deliveries. Sending itself is `backups.services.notifications` (RQ jobs; the test waits for one
attempt)."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import queries
from backups.forms import NotificationTargetForm
from backups.models import NotificationTarget
from backups.permissions import admin_required
from backups.services import notifications

DELIVERIES_PER_PAGE = 50


@admin_required
def notification_edit(request, pk=None):
    instance = get_object_or_404(NotificationTarget, pk=pk) if pk else None
    form = NotificationTargetForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        target = notifications.target_save(form.save(commit=False))
        messages.success(request, f"Notification target {target.name} saved. Send a test to check it.")
        return redirect("backups:settings")
    context = {"form": form, "what": "Notification target", "instance": instance}
    return render(request, "backups/settings_form.html", context)


@admin_required
def notification_delete(request, pk):
    """GET asks for confirmation; POST deletes the target (its deliveries stay in the log)."""
    target = get_object_or_404(NotificationTarget, pk=pk)
    if request.method == "POST":
        notifications.target_delete(target)
        messages.success(request, f"Notification target {target.name} deleted.")
        return redirect("backups:settings")
    return render(request, "backups/confirm_delete_notification.html", {"target": target})


@require_POST
@admin_required
def notification_test(request, pk):
    """Send a test notification now and say how it went."""
    target = get_object_or_404(NotificationTarget, pk=pk)
    delivery = notifications.send_test(target)
    if delivery.state == delivery.State.SENT:
        messages.success(request, f"Test notification sent to {target.name}.")
    else:
        messages.error(request, f"Test notification to {target.name} failed: {delivery.last_error}")
    return redirect("backups:settings")


@admin_required
def delivery_log(request):
    page = queries.page_of(queries.notification_deliveries(), request.GET.get("page"), DELIVERIES_PER_PAGE)
    context = {"page": page, "retries": settings.VELOWEB_NOTIFY_RETRY_SECONDS}
    return render(request, "backups/notification_deliveries.html", context)
