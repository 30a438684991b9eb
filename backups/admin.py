from django.contrib import admin

from backups.models import AuditEntry, Cluster


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "context", "kubeconfig_path", "in_cluster", "created"]
    search_fields = ["name", "context"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: entries are never added, changed or deleted by hand (Settings > Audit trail)."""

    list_display = ["time", "username", "address", "action", "object_type", "object_name"]
    list_filter = ["action", "object_type", "via"]
    search_fields = ["username", "object_name", "object_id"]
    date_hierarchy = "time"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
