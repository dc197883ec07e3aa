"""Portal dashboard URLs (names in the "portal" namespace)."""
urlpatterns: list = []
