from django.urls import path

from backups import converters  # noqa: F401 - registers <id:...>
from backups.views import admin_pages, define, definition_pages, detail, history, preview_pages, restore_pages
from backups.views import location_pages as location_views

app_name = "backups"

urlpatterns = [
    path("", history.home, name="home"),
    path("backups/new/", define.new_backup, name="new"),
    path("backups/new/check/", define.define_check, name="define_check"),
    path("backups/<id:pk>/", detail.backup_detail, name="detail"),
    path("backups/<id:pk>/resources/", detail.backup_resources, name="resources"),
    path("backups/<id:pk>/download/<str:kind>/", detail.backup_download, name="download"),
    path("backups/<id:pk>/delete/", detail.backup_delete, name="delete"),
    path("backups/<id:pk>/cancel/", detail.backup_cancel, name="cancel"),
    path("backups/<id:pk>/restore/", restore_pages.restore_new, name="restore_new"),
    path("backups/<id:pk>/restore/check/", restore_pages.restore_check, name="restore_check"),
    path("restores/", restore_pages.restore_history, name="restores"),
    path("restores/<id:pk>/", restore_pages.restore_detail, name="restore_detail"),
    path("restores/<id:pk>/cancel/", restore_pages.restore_cancel, name="restore_cancel"),
    path("restores/<id:pk>/delete/", restore_pages.restore_delete, name="restore_delete"),
    path("restores/dry-runs/<str:token>/", restore_pages.restore_dry_run, name="restore_dry_run"),
    path(
        "restores/dry-runs/<str:token>/restore/",
        restore_pages.restore_from_dry_run,
        name="restore_from_dry_run",
    ),
    path("definitions/", definition_pages.definition_list, name="definitions"),
    path("definitions/<id:pk>/edit/", definition_pages.definition_edit, name="definition_edit"),
    path("definitions/<id:pk>/backup/", definition_pages.definition_backup_now, name="definition_backup_now"),
    path("definitions/<id:pk>/preview/", definition_pages.definition_preview, name="definition_preview"),
    path("definitions/<id:pk>/pause/", definition_pages.definition_pause, name="definition_pause"),
    path("definitions/<id:pk>/resume/", definition_pages.definition_resume, name="definition_resume"),
    path("definitions/<id:pk>/delete/", definition_pages.definition_delete, name="definition_delete"),
    path("previews/<str:token>/", preview_pages.preview_page, name="preview"),
    path("previews/<str:token>/blocks/<id:index>/", preview_pages.preview_block, name="preview_block"),
    path("previews/<str:token>/backup/", preview_pages.preview_backup_now, name="preview_backup_now"),
    path("settings/", admin_pages.settings_page, name="settings"),
    path("settings/clusters/new/", admin_pages.cluster_edit, name="cluster_new"),
    path("settings/clusters/<id:pk>/", admin_pages.cluster_edit, name="cluster_edit"),
    path("settings/clusters/<id:pk>/check/", admin_pages.cluster_check, name="cluster_check"),
    path("settings/locations/new/", location_views.location_edit, name="location_new"),
    path("settings/locations/<id:pk>/", location_views.location_edit, name="location_edit"),
    path("locations/<id:pk>/", location_views.location_page, name="location"),
    path("locations/<id:pk>/check/", location_views.location_check, name="location_check"),
    path("locations/<id:pk>/default/", location_views.location_default, name="location_default"),
    path("locations/<id:pk>/import/", location_views.location_import, name="location_import"),
    path("settings/users/<id:pk>/role/", admin_pages.user_role, name="user_role"),
]
