"""Staff pages of the CMS: the knowledge-base search agents use (owner: knowledge helper)."""
app_name = "cms_staff"
urlpatterns: list = []
