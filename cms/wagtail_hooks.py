"""Wagtail admin wiring for the site's content, one module per area under cms/editing/."""
from importlib import import_module

for _area in ("content", "knowledge", "outages", "site"):
    import_module(f"cms.editing.{_area}")
