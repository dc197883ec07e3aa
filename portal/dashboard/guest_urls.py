"""Guest bill lookup: /bill/lookup/ (name "bill_lookup")."""
urlpatterns: list = []
