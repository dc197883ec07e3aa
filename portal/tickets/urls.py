"""Portal tickets URLs (names in the "portal" namespace)."""
urlpatterns: list = []
