"""The one place notifications read the time, so quiet hours and backoff can be tested with a frozen clock."""
import datetime

from django.utils import timezone


def now() -> datetime.datetime:
    return timezone.now()
