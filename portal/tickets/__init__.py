"""Portal: tickets."""
