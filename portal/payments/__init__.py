"""Portal: payments."""
