"""Wagtail admin registrations for the site area (snippets, choosers, hooks)."""
