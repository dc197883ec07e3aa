"""Portal payments URLs (names in the "portal" namespace)."""
urlpatterns: list = []
