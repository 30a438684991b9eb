"""WebSocket routes, mounted by veloweb/asgi.py. A path no route serves is closed with 4404, not
left to Channels' URLRouter, which raises (uvicorn then logs an error and answers 500)."""

from django.urls import path, re_path

from backups import converters  # noqa: F401 - registers <id:...>
from backups.live.consumer import (
    HistoryConsumer,
    LogFollowConsumer,
    RunProgressConsumer,
    UnknownPathConsumer,
)
from backups.live.progress import BACKUP, RESTORE

websocket_urlpatterns = [
    path("ws/backups/<id:run_id>/", RunProgressConsumer.as_asgi(run_kind=BACKUP)),
    path("ws/restores/<id:run_id>/", RunProgressConsumer.as_asgi(run_kind=RESTORE)),
    path("ws/history/", HistoryConsumer.as_asgi()),
    path("ws/backups/<id:run_id>/log/", LogFollowConsumer.as_asgi(run_kind=BACKUP)),
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
