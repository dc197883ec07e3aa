"""Wagtail admin registrations for the content area (snippets, choosers, hooks)."""
