"""/v1 routes of fine-tuning, included by inference/api/urls.py."""

from django.urls import path

from inference.training.api import views

urlpatterns = [
    path("files", views.files, name="files"),
    path("files/<str:file_id>", views.file_detail, name="file-detail"),
    path("files/<str:file_id>/content", views.file_content, name="file-content"),
    path("fine_tuning/jobs", views.jobs, name="fine-tuning-jobs"),
    path("fine_tuning/jobs/<str:job_id>", views.job_detail, name="fine-tuning-job"),
    path("fine_tuning/jobs/<str:job_id>/cancel", views.job_cancel, name="fine-tuning-cancel"),
    path("fine_tuning/jobs/<str:job_id>/events", views.job_events, name="fine-tuning-events"),
    path(
        "fine_tuning/jobs/<str:job_id>/checkpoints",
        views.job_checkpoints,
        name="fine-tuning-checkpoints",
    ),
]
