"""WebSocket routes, mounted by veloweb/asgi.py."""

websocket_urlpatterns = []
