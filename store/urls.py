from django.urls import include, path

from store import views

urlpatterns = [
    path("", views.home, name="home"),
    path("publish/", include("store.publishing.urls")),
    path("catalog/", views.catalog, name="catalog"),
    path(
        "models/<slug:publisher_slug>/<slug:listing_slug>/",
        views.listing_detail,
        name="listing_detail",
    ),
    path(
        "models/<slug:publisher_slug>/<slug:listing_slug>/review/",
        views.review_save,
        name="listing_review",
    ),
    path(
        "models/<slug:publisher_slug>/<slug:listing_slug>/report/",
        views.report_create,
        name="listing_report",
    ),
    path("reviews/<int:review_id>/delete/", views.review_delete, name="review_delete"),
    path("publishers/<slug:slug>/", views.publisher_detail, name="publisher_detail"),
    path("curate/", views.curate, name="curate"),
    path("curate/listings/<int:listing_id>/", views.curate_listing, name="curate_listing"),
    path("curate/versions/<int:version_id>/", views.curate_version, name="curate_version"),
    path("curate/reports/<int:report_id>/", views.curate_report, name="curate_report"),
]
