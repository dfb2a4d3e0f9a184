from django.urls import path

from store.publishing import views

app_name = "studio"

urlpatterns = [
    path("", views.studio_home, name="home"),
    path("new/", views.listing_new, name="listing_new"),
    path("<int:listing_id>/", views.listing_detail, name="listing"),
    path("<int:listing_id>/edit/", views.listing_edit, name="listing_edit"),
    path("<int:listing_id>/upload/", views.version_upload, name="upload"),
    path("<int:listing_id>/submit/", views.listing_submit, name="submit"),
    path("<int:listing_id>/withdraw/", views.listing_withdraw, name="withdraw"),
    path(
        "versions/<int:version_id>/progress.json", views.version_progress, name="version_progress"
    ),
]
