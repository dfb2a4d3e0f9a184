from django.contrib import admin
from django.db import models

from inference.models import BlockedPattern, UsageRecord, WorkerPool
from inference.pools.placement import pool_workers
from inference.safeguards import patterns_changed


@admin.register(BlockedPattern)
class BlockedPatternAdmin(admin.ModelAdmin):
    list_display = ["pattern", "is_regex", "active", "match_count", "last_matched_at", "reason"]
    list_filter = ["active", "is_regex"]
    search_fields = ["pattern", "reason"]
    readonly_fields = ["match_count", "last_matched_at", "created_by", "created_at"]
    actions = ["activate", "deactivate"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        patterns_changed()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        patterns_changed()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        patterns_changed()

    @admin.action(description="Activate selected patterns")
    def activate(self, request, queryset):
        queryset.update(active=True)
        patterns_changed()

    @admin.action(description="Deactivate selected patterns")
    def deactivate(self, request, queryset):
        queryset.update(active=False)
        patterns_changed()


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    list_display = [
        "request_id", "user", "listing", "source", "access", "prompt_tokens",
        "completion_tokens", "charged_tokens", "status", "finish_reason", "latency_ms", "created_at",
    ]  # fmt: skip
    list_filter = ["source", "access", "status"]
    search_fields = ["request_id", "user__email", "listing__slug"]
    list_select_related = ["user", "listing__publisher"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WorkerPool)
class WorkerPoolAdmin(admin.ModelAdmin):
    list_display = [
        "name", "queue", "device_kind", "backend", "memory_budget_mb", "enabled", "hosted",
        "live_workers",
    ]  # fmt: skip
    list_filter = ["enabled", "backend", "device_kind"]
    search_fields = ["name", "queue"]
    filter_horizontal = ["listings"]
    # Upstreams on the internal network are often plain http.
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}
    fieldsets = [
        (None, {"fields": ["name", "queue", "device_kind", "memory_budget_mb", "enabled"]}),
        ("Models hosted", {"fields": ["listings"]}),
        (
            "Backend",
            {
                "fields": [
                    "backend",
                    "upstream_base_url",
                    "upstream_api_key_env",
                    "upstream_model",
                    "upstream_timeout_seconds",
                ]  # fmt: skip
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("listings__publisher")

    @admin.display(description="models hosted")
    def hosted(self, pool):
        return ", ".join(listing.model_id for listing in pool.listings.all()) or "—"

    @admin.display(description="live workers")
    def live_workers(self, pool):
        return pool_workers(queue=pool.queue)
