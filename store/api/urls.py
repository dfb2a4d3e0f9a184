from django.urls import path, re_path

from store.api import views

urlpatterns = [
    path("listings/", views.ListingListApi.as_view(), name="catalog-api-listings"),
    path(
        "listings/<slug:publisher_slug>/<slug:listing_slug>/",
        views.ListingDetailApi.as_view(),
        name="catalog-api-listing",
    ),
    # Last: any other path (a line break in it too) gets the API's JSON error, not a web page.
    re_path(r"^[\s\S]*$", views.unknown_url),
]
