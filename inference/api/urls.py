from django.urls import path, re_path

from inference.api import views
from inference.training.api.urls import urlpatterns as fine_tuning_urls

app_name = "v1"

urlpatterns = [
    path("models", views.models_list, name="models"),
    path("models/<path:model_id>", views.model_detail, name="model-detail"),
    path("chat/completions", views.chat_completions, name="chat-completions"),
    path("completions", views.completions, name="completions"),
    # Fine-tuning: /v1/files and /v1/fine_tuning/jobs (inference/training).
    *fine_tuning_urls,
    # Last: any other path under /v1 gets OpenAI's error body, not the site's HTML 404 page
    # (a line break in the path too: "." alone would not match it).
    re_path(r"^[\s\S]*$", views.unknown_url),
]
