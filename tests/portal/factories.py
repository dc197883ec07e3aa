"""Factories for portal tests (shared: append only)."""
