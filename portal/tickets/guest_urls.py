"""Guest ticket tracking: /track/ (name "ticket_track")."""
urlpatterns: list = []
