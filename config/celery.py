"""The Celery application; broker and schedule come from Django settings (CELERY_* names)."""
import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("power95598")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def default_queue_declare(sender, **kwargs) -> None:
    """Create the default queue before the worker's consumer and embedded beat start.

    Kombu's SQLAlchemy transport creates a queue's row on first use with an unlocked get-or-create; on a new broker
    file the worker and its beat process raced there and beat's first send failed on the UNIQUE constraint.
    """
    with sender.app.connection_for_write() as connection:
        connection.default_channel.queue_declare(queue=sender.app.conf.task_default_queue)
