from django.urls import path

from store.api import views

urlpatterns = [
    path("listings/", views.ListingListApi.as_view(), name="catalog-api-listings"),
    path(
        "listings/<slug:publisher_slug>/<slug:listing_slug>/",
        views.ListingDetailApi.as_view(),
        name="catalog-api-listing",
    ),
]
