"""Celery tasks of the website: thin, each named after what it runs."""
from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="cms.publish_scheduled")
def publish_scheduled() -> None:
    """Every minute (beat): Wagtail's scheduled publishing — revisions whose approved go-live time has come are
    published, live pages past their expiry unpublished (its publish_scheduled command, the same code path)."""
    call_command("publish_scheduled", verbosity=0)
