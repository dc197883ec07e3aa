"""Portal: requests."""
