"""Twilio Voice webhooks of the IVR, under /callcenter/twilio/ (the voice URL is the number's "A call comes in"
webhook; the others are named in the TwiML and the number's status callback)."""
from django.urls import path

from . import twilio_views

urlpatterns = [
    path("voice/", twilio_views.voice, name="twilio_voice"),
    path("gather/", twilio_views.gather, name="twilio_gather"),
    path("queue/", twilio_views.queue_result, name="twilio_queue"),
    path("status/", twilio_views.status, name="twilio_status"),
]
