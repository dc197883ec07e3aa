"""Portal inbox URLs (names in the "portal" namespace)."""
urlpatterns: list = []
