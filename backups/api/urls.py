"""`/api/v1/`: see backups/api/docs.py for the schema and its page."""

from django.urls import path, re_path

from backups import converters  # noqa: F401 - registers <id:...>
from backups.api import backup_views, catalog_views, definition_views, docs, preview_views, restore_views
from backups.api.errors import not_found_view

app_name = "api"

urlpatterns = [
    path("backups/", backup_views.BackupList.as_view(), name="backups"),
    path("backups/<id:pk>/", backup_views.BackupDetail.as_view(), name="backup"),
    path("backups/<id:pk>/blocks/", backup_views.BackupBlocks.as_view(), name="backup_blocks"),
    path("backups/<id:pk>/cancel/", backup_views.BackupCancel.as_view(), name="backup_cancel"),
    path("definitions/", definition_views.DefinitionList.as_view(), name="definitions"),
    path("definitions/<id:pk>/", definition_views.DefinitionDetail.as_view(), name="definition"),
    path(
        "definitions/<id:pk>/backups/",
        definition_views.DefinitionBackupNow.as_view(),
        name="definition_backup",
    ),
    path("definitions/<id:pk>/pause/", definition_views.DefinitionPause.as_view(), name="definition_pause"),
    path(
        "definitions/<id:pk>/resume/", definition_views.DefinitionResume.as_view(), name="definition_resume"
    ),
    path("schedules/", definition_views.ScheduleList.as_view(), name="schedules"),
    path("previews/", preview_views.PreviewCreate.as_view(), name="previews"),
    path("previews/<str:token>/", preview_views.PreviewDetail.as_view(), name="preview"),
    path("previews/<str:token>/blocks/", preview_views.PreviewBlocks.as_view(), name="preview_blocks"),
    path("previews/<str:token>/excluded/", preview_views.PreviewExcluded.as_view(), name="preview_excluded"),
    path("restores/", restore_views.RestoreList.as_view(), name="restores"),
    path("restores/<id:pk>/", restore_views.RestoreDetail.as_view(), name="restore"),
    path("restores/<id:pk>/cancel/", restore_views.RestoreCancel.as_view(), name="restore_cancel"),
    path("locations/", catalog_views.LocationList.as_view(), name="locations"),
    path("locations/<id:pk>/", catalog_views.LocationDetail.as_view(), name="location"),
    path("clusters/", catalog_views.ClusterList.as_view(), name="clusters"),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    path("docs/", docs.docs_page, name="docs"),
    re_path(r"^.*$", not_found_view),
]
