"""Portal binding URLs (names in the "portal" namespace)."""
urlpatterns: list = []
