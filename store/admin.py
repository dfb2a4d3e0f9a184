"""Curation in the Django admin: listings (filters, search, lifecycle bulk actions, history),
collections (ordered), reports and reviews. Status changes go through store.services so that
the audit log and its rules hold here too; status fields are therefore read-only in forms."""

import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.shortcuts import render
from django.utils.html import format_html

from config.admin_actions import ThroughServices
from config.api_errors import ApplicationError
from store import policies, services
from store.forms import RejectForm
from store.models import (
    Collection,
    CollectionItem,
    Listing,
    ListingReport,
    ListingStatusChange,
    ListingVersion,
    Review,
    WeightFile,
)


class ListingStatusChangeInline(admin.TabularInline):
    model = ListingStatusChange
    extra = 0
    can_delete = False
    fields = ["created_at", "actor", "from_status", "to_status", "reason"]
    readonly_fields = fields
    verbose_name_plural = "Status history"

    def has_add_permission(self, request, obj=None):
        return False


def _listing_name(listing) -> str:
    return listing.name


@admin.register(Listing)
class ListingAdmin(ThroughServices, admin.ModelAdmin):
    list_display = [
        "name",
        "publisher",
        "status",
        "task",
        "license",
        "featured",
        "review_count",
        "created_at",
    ]
    list_filter = ["status", "task", "license", "featured"]
    search_fields = ["name", "slug", "summary", "publisher__display_name", "publisher__slug"]
    list_select_related = ["publisher"]
    readonly_fields = [
        "status",
        "rejection_reason",
        "featured",
        "approved_at",
        "rating_average",
        "review_count",
        "created_at",
        "updated_at",
        "latest_processing_report",
    ]
    autocomplete_fields = ["publisher"]
    inlines = [ListingStatusChangeInline]
    actions = ["approve", "reject", "feature", "unfeature", "delist"]

    def has_curate_permission(self, request) -> bool:
        return policies.may_curate_listings(request.user)

    @admin.display(description="Processing report of the latest version")
    def latest_processing_report(self, obj):
        version = obj.versions.order_by("-number").first() if obj.pk else None
        if version is None:
            return "No version uploaded."
        report = json.dumps(version.processing_report, indent=2, sort_keys=True, default=str)
        return format_html(
            "<p>Version {} · {} · {}</p><pre style='white-space:pre-wrap'>{}</pre>",
            version.number,
            version.get_status_display(),
            version.error_message or "no error",
            report,
        )

    def _transition(self, request, queryset, to_status: str, reason: str = "") -> None:
        self.each(
            request,
            queryset,
            lambda listing: services.listing_transition(
                listing_id=listing.pk, to_status=to_status, actor=request.user, reason=reason
            ),
            done=f"Now {to_status}",
            label=_listing_name,
        )

    @admin.action(description="Approve selected listings", permissions=["curate"])
    def approve(self, request, queryset):
        self._transition(request, queryset, Listing.Status.APPROVED)

    @admin.action(
        description="Reject selected listings (asks for a reason)", permissions=["curate"]
    )
    def reject(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._transition(
                request, queryset, Listing.Status.REJECTED, form.cleaned_data["reason"]
            )
            return None
        return render(
            request,
            "admin/store/listing/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": "Reject listings",
                "opts": self.model._meta,
                "listings": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Delist selected listings", permissions=["curate"])
    def delist(self, request, queryset):
        self._transition(request, queryset, Listing.Status.DELISTED)

    @admin.action(description="Feature selected listings on the home page", permissions=["curate"])
    def feature(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda listing: services.listing_set_featured(
                listing_id=listing.pk, featured=True, actor=request.user
            ),
            done="Featured",
            label=_listing_name,
        )

    @admin.action(description="Stop featuring selected listings", permissions=["curate"])
    def unfeature(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda listing: services.listing_set_featured(
                listing_id=listing.pk, featured=False, actor=request.user
            ),
            done="No longer featured",
            label=_listing_name,
        )


class WeightFileInline(admin.TabularInline):
    model = WeightFile
    extra = 0
    can_delete = False
    fields = ["path", "size_bytes", "sha256", "download_count"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ListingVersion)
class ListingVersionAdmin(admin.ModelAdmin):
    """Read-only: a version is immutable once processed; publishers upload, workers process."""

    list_display = [
        "listing",
        "number",
        "status",
        "source_format",
        "parameter_count",
        "size_bytes",
        "created_at",
    ]
    list_filter = ["status", "source_format"]
    search_fields = ["listing__name", "listing__slug", "architecture"]
    list_select_related = ["listing", "listing__publisher"]
    inlines = [WeightFileInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CollectionItemInline(admin.TabularInline):
    model = CollectionItem
    extra = 1
    fields = ["position", "listing"]
    autocomplete_fields = ["listing"]
    ordering = ["position", "id"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "is_visible", "item_count"]
    list_editable = ["position", "is_visible"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CollectionItemInline]

    @admin.display(description="Listings")
    def item_count(self, obj):
        return obj.items.count()


@admin.register(ListingReport)
class ListingReportAdmin(admin.ModelAdmin):
    list_display = ["listing", "reason", "status", "reporter", "created_at", "resolved_by"]
    list_filter = ["status", "reason"]
    search_fields = ["listing__name", "text", "reporter__email"]
    list_select_related = ["listing", "listing__publisher", "reporter", "resolved_by"]
    readonly_fields = [
        "listing",
        "reporter",
        "reason",
        "text",
        "status",
        "resolved_by",
        "resolved_at",
        "created_at",
    ]
    fields = [*readonly_fields, "resolution_note"]
    actions = ["resolve", "dismiss"]

    def has_add_permission(self, request):
        return False

    def has_close_permission(self, request) -> bool:
        return policies.may_close_reports(request.user)

    def _close(self, request, queryset, status):
        closed = 0
        for report in queryset.filter(status=ListingReport.Status.OPEN):
            try:
                services.report_close(report_id=report.pk, actor=request.user, status=status)
                closed += 1
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
        self.message_user(request, f"{closed} report(s) {status}.", messages.SUCCESS)

    @admin.action(description="Resolve selected reports", permissions=["close"])
    def resolve(self, request, queryset):
        self._close(request, queryset, ListingReport.Status.RESOLVED)

    @admin.action(description="Dismiss selected reports", permissions=["close"])
    def dismiss(self, request, queryset):
        self._close(request, queryset, ListingReport.Status.DISMISSED)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    """Staff moderate reviews by deleting them; deletion goes through the service so the
    listing's average stays right."""

    list_display = ["listing", "author", "stars", "created_at"]
    list_filter = ["stars"]
    search_fields = ["listing__name", "author__email", "text"]
    list_select_related = ["listing", "author"]
    readonly_fields = ["listing", "author", "stars", "text", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        services.review_delete(review_id=obj.pk, actor=request.user)

    def delete_queryset(self, request, queryset):
        for review in queryset:
            services.review_delete(review_id=review.pk, actor=request.user)


import store.gpts.admin  # noqa: E402,F401 - GPTs' admin (store/gpts)
