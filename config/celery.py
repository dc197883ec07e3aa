"""The Celery application; broker and schedule come from Django settings (CELERY_* names)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("power95598")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
