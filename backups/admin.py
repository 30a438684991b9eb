from django.contrib import admin

from backups.models import Cluster


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "context", "kubeconfig_path", "in_cluster", "created"]
    search_fields = ["name", "context"]
