from django.contrib import admin

from inference.models import BlockedPattern, UsageRecord
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
