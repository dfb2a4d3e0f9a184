"""GPTs in the Django admin: categories (staff-managed), builder profiles (verification
through the service), GPTs and their audit trail read-only; decisions go through
store.gpts.services (the curator page /gpts/curate/ is the everyday place for them)."""

from django.contrib import admin, messages

from config.api_errors import ApplicationError
from store.gpts import policies, services
from store.gpts.models import BuilderProfile, Gpt, GptAuditEntry, GptCategory, GptReport


@admin.register(GptCategory)
class GptCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(BuilderProfile)
class BuilderProfileAdmin(admin.ModelAdmin):
    list_display = ("display_name", "handle", "user", "verified", "created_at")
    list_filter = ("verified",)
    search_fields = ("display_name", "handle", "user__email")
    readonly_fields = ("verified",)
    actions = ["verify"]

    def has_curate_permission(self, request) -> bool:
        return policies.may_curate(request.user)

    @admin.action(description="Verify the selected builders", permissions=["curate"])
    def verify(self, request, queryset):
        try:
            for profile in queryset:
                services.builder_verify(actor=request.user, profile=profile)
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)


class GptAuditInline(admin.TabularInline):
    model = GptAuditEntry
    extra = 0
    can_delete = False
    fields = ("created_at", "actor", "action", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Gpt)
class GptAdmin(admin.ModelAdmin):
    list_display = ("name", "profile", "visibility", "review", "featured", "updated_at")
    list_filter = ("visibility", "review", "featured", "category")
    search_fields = ("name", "slug", "profile__handle", "builder__email")
    inlines = [GptAuditInline]
    # Everything changes through the builder page and the services (audited there).
    readonly_fields = [field.name for field in Gpt._meta.fields] + ["knowledge"]

    def has_add_permission(self, request):
        return False


@admin.register(GptReport)
class GptReportAdmin(admin.ModelAdmin):
    list_display = ("gpt", "user", "created_at", "closed_at")
    list_filter = ("closed_at",)
    readonly_fields = ("gpt", "user", "reason", "created_at", "closed_at")
    actions = ["close"]

    def has_curate_permission(self, request) -> bool:
        return policies.may_curate(request.user)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Close the selected reports", permissions=["curate"])
    def close(self, request, queryset):
        for report in queryset:
            services.gpt_report_close(report=report, actor=request.user)
