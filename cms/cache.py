"""Page cache for anonymous visitors, dropped whenever published content changes (owner: site helper)."""


def connect_signals() -> None:
    """Subscribe to publish/unpublish and core's outage and tariff changes."""
