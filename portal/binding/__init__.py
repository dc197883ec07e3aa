"""Portal: binding."""
