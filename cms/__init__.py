"""cms app."""
