from django.urls import path

from inference.api import views

app_name = "v1"

urlpatterns = [
    path("models", views.models_list, name="models"),
    path("models/<path:model_id>", views.model_detail, name="model-detail"),
    path("chat/completions", views.chat_completions, name="chat-completions"),
    path("completions", views.completions, name="completions"),
]
