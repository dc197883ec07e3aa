"""Wagtail admin registrations for the outages area (snippets, choosers, hooks)."""
