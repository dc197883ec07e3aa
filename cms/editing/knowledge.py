"""Wagtail admin registrations for the knowledge area (snippets, choosers, hooks)."""
