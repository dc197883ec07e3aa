"""Wagtail admin registrations, one module per area; imported by cms/wagtail_hooks.py."""
