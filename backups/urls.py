from django.urls import path

from backups import converters  # noqa: F401 - registers <id:...>
from backups.views import (
    admin_pages,
    audit_pages,
    define,
    definition_pages,
    detail,
    history,
    notify_pages,
    preview_pages,
)
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
    path("settings/audit/", audit_pages.audit_page, name="audit"),
    path("settings/notifications/new/", notify_pages.notification_edit, name="notification_new"),
    path("settings/notifications/<id:pk>/", notify_pages.notification_edit, name="notification_edit"),
    path("settings/notifications/<id:pk>/test/", notify_pages.notification_test, name="notification_test"),
    path("settings/notifications/<id:pk>/delete/", notify_pages.notification_delete, name="notify_delete"),
    path("settings/notifications/deliveries/", notify_pages.delivery_log, name="notification_deliveries"),
    path("settings/audit/export.<str:fmt>", audit_pages.audit_download, name="audit_export"),
]
