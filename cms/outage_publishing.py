"""Publishing an outage notice page announces the outage in core (owner: outages helper)."""


def connect_signals() -> None:
    """Subscribe to Wagtail's publish signals."""
