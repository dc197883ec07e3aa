"""Websocket routes of notifications under /ws/."""
from django.urls import path

from notifications.consumers import StaffAlertsConsumer

websocket_urlpatterns = [path("ws/staff/alerts/", StaffAlertsConsumer.as_asgi())]
