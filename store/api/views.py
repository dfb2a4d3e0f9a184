"""Catalog API: one view per operation; same visibility rules as the pages (store.selectors)."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from store import selectors
from store.api.serializers import (
    CatalogQuerySerializer,
    ListingDetailSerializer,
    ListingSummarySerializer,
)
from store.paging import paginator_class_for

ERROR = inline_serializer(
    name="StoreError",
    fields={
        "error": inline_serializer(
            name="StoreErrorBody",
            fields={
                "message": serializers.CharField(),
                "code": serializers.CharField(),
                "fields": serializers.DictField(required=False),
            },
        )
    },
)


class CatalogPagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


class ListingListApi(APIView):
    pagination_class = CatalogPagination

    @extend_schema(
        operation_id="catalog_listings_list",
        summary="Search and filter the public catalog",
        parameters=[CatalogQuerySerializer],
        # 404: a page number past the last page (or below 1).
        responses={200: ListingSummarySerializer(many=True), 400: ERROR, 404: ERROR},
        tags=["catalog"],
    )
    def get(self, request):
        query = CatalogQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.filters()
        listings = selectors.catalog_listings(**filters)
        paginator = self.pagination_class()
        paginator.django_paginator_class = paginator_class_for(q=filters["q"], sort=filters["sort"])
        page = paginator.paginate_queryset(listings, request, view=self)
        return paginator.get_paginated_response(ListingSummarySerializer(page, many=True).data)


class ListingDetailApi(APIView):
    @extend_schema(
        operation_id="catalog_listings_retrieve",
        summary="One listing with its card, versions and files",
        description="Approved listings are public; others are visible to their publisher and staff only (404 otherwise).",
        responses={200: ListingDetailSerializer, 404: ERROR},
        tags=["catalog"],
    )
    def get(self, request, publisher_slug: str, listing_slug: str):
        listing = selectors.listing_for_viewer(
            publisher_slug=publisher_slug, slug=listing_slug, user=request.user
        )
        if listing is None:
            raise NotFound("No such model.")
        versions = selectors.listing_versions_for_viewer(listing=listing, user=request.user)
        return Response(ListingDetailSerializer(listing, context={"versions": versions}).data)


@csrf_exempt
def unknown_url(request):
    """Any other path under the catalog API: the API's error shape, not the site's HTML page
    (a listing id that is no slug lands here too)."""
    return JsonResponse(
        {"error": {"message": f"No such API URL: {request.path}", "code": "not_found"}},
        status=404,
    )
