"""ASGI entry point: HTTP through Django, websockets under /ws/ through Channels."""
import gc
import os

from django.conf import settings

from config import asgi_handler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
# Django must be set up before Channels imports consumers that touch models. HTTP goes through Django's handler with
# the synchronous work of each request on one thread of a fixed set (config/asgi_handler.py).
django_asgi_app = asgi_handler.http_application()
# While DEBUG is on, `daphne config.asgi:application` serves static files itself, as runserver does;
# in production a reverse proxy serves the collected files.
if settings.DEBUG:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_application = ASGIStaticFilesHandler(django_asgi_app)
else:
    http_application = django_asgi_app

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator

from config.routing import websocket_urlpatterns

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# What is loaded by now (Django, Wagtail, Channels, the apps and their models: ~225,000 objects) lives as long as the
# process. Moved out of the garbage collector's sight, so that a full collection walks only what requests create:
# walking it all paused every request of the process for ~150 ms each time.
gc.collect()
gc.freeze()
