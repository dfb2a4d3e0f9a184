from django.urls import path

from inference.training import views

app_name = "training"

urlpatterns = [
    path("fine-tuning/", views.jobs_page, name="jobs"),
    path("fine-tuning/files", views.file_upload, name="file-upload"),
    path("fine-tuning/estimate", views.estimate, name="estimate"),
    path("fine-tuning/jobs/<str:job_id>/", views.job_page, name="job"),
    path("fine-tuning/jobs/<str:job_id>/status.json", views.job_status, name="job-status"),
    path("fine-tuning/jobs/<str:job_id>/cancel", views.job_cancel, name="job-cancel"),
    path(
        "fine-tuning/models/<int:model_id>/files/<path:path>",
        views.model_file_download,
        name="model-file",
    ),
    path("fine-tuning/models/<int:model_id>/publish", views.model_publish, name="model-publish"),
    path("fine-tuning/terms/<int:listing_id>/", views.terms_page, name="terms"),
]
