"""Websocket routes of the call centre (agent console, wallboard) under /ws/."""
from django.urls import path

from callcenter.consumers import CallcenterConsumer

websocket_urlpatterns = [path("ws/callcenter/", CallcenterConsumer.as_asgi())]
