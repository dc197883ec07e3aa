"""A task the real Celery worker imports (`--include`) so the embedded-broker test can see it ran, and where."""
import os
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.write_marker")
def write_marker(*, path: str, text: str) -> None:
    Path(path).write_text(f"{text} (pid {os.getpid()})", encoding="utf-8")
