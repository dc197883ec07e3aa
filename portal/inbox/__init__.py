"""Portal: inbox."""
