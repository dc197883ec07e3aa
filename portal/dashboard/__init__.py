"""Portal: dashboard."""
