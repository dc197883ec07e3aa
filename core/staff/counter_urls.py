from django.urls import path

app_name = "core_counter"

urlpatterns: list = []
