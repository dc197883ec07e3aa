from django.urls import path

app_name = "core_quality"

urlpatterns: list = []
