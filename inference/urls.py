from django.urls import path

from inference import views
from inference.monitoring import views as monitoring_views

app_name = "inference"

urlpatterns = [
    path("playground/", views.playground, name="playground"),
    path("playground/chat", views.playground_chat, name="playground-chat"),
    path("usage/", views.usage, name="usage"),
    path("usage/data.json", views.usage_json, name="usage-json"),
    path("usage/export.csv", views.usage_csv, name="usage-csv"),
    path("usage/publisher/", views.publisher_usage, name="publisher-usage"),
    path(
        "publish/<int:listing_id>/monitoring/",
        monitoring_views.model_monitoring_page,
        name="model-monitoring",
    ),
]
