"""Websocket routes of every app, all under /ws/."""
from callcenter.routing import websocket_urlpatterns as callcenter_ws
from notifications.routing import websocket_urlpatterns as notifications_ws

websocket_urlpatterns = [*callcenter_ws, *notifications_ws]
