"""The call centre's pages and webhooks under /callcenter/: the agent console, the supervisor wallboard and the
Twilio voice webhooks of the IVR."""
from django.urls import include, path

app_name = "callcenter"

urlpatterns = [
    path("", include("callcenter.console.urls")),
    path("wallboard/", include("callcenter.wallboard.urls")),
    path("twilio/", include("callcenter.ivr.urls")),
]
