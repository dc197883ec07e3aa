from django.urls import path

app_name = "core_reports"

urlpatterns: list = []
