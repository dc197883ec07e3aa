"""Portal requests URLs (names in the "portal" namespace)."""
urlpatterns: list = []
