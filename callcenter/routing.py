"""Websocket routes of the call centre (agent console, wallboard) under /ws/."""
websocket_urlpatterns: list = []
