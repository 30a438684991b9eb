"""WebSocket routes, mounted by veloweb/asgi.py."""

from django.urls import path

from backups.consumers import BackupProgressConsumer

websocket_urlpatterns = [
    path("ws/backups/<int:backup_id>/", BackupProgressConsumer.as_asgi()),
]
