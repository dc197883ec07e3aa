"""Settings of every process a fault run starts (daphne, Celery workers and beat, run_ami, the runner itself): the
project's own (config.settings.dev with DEBUG off, from the environment: PostgreSQL and Redis of the run) with the
recovery clocks compressed from minutes to seconds, so that a run shows in a minute what production shows in an
hour. Each value is printed with the report; production keeps the defaults of config/settings/base.py.

- visibility_timeout: a task a killed worker had taken (acks late) goes back to the queue after this long; kombu's
  Redis transport defaults to an hour. Checked every second instead of every 100.
- the notifications' sending lease and re-dispatch delay: a message a killed worker was sending is handed out again
  after the lease; dispatch_due runs every 2 s instead of every minute, the SLA tick every 3 s.
"""
from config.settings.dev import *

CHAOS_VISIBILITY_TIMEOUT_SECONDS = 8
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **globals().get("CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "visibility_timeout": CHAOS_VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
NOTIFICATIONS_SENDING_LEASE_SECONDS = 10
NOTIFICATIONS_REDISPATCH_AFTER_SECONDS = 5
CELERY_BEAT_SCHEDULE = {
    "notifications.dispatch_due": {"task": "notifications.dispatch_due", "schedule": 2.0},
    "core.sla_tick": {"task": "core.sla_tick", "schedule": 3.0},
}
# The fault runs' own task (a payment posted by a worker, as a bank file's lines would be).
CELERY_IMPORTS = (*CELERY_IMPORTS, "bench.chaos.tasks")

CHAOS_COMPRESSED_CLOCKS = {
    "broker visibility_timeout (s)": CHAOS_VISIBILITY_TIMEOUT_SECONDS,
    "SMS sending lease (s)": NOTIFICATIONS_SENDING_LEASE_SECONDS,
    "dispatch_due / sla_tick period (s)": "2 / 3",
}
