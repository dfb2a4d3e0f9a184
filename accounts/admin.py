from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import policies, services
from accounts.models import ApiKey, PublisherProfile, User
from config.admin_actions import ThroughServices


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(PublisherProfile)
class PublisherProfileAdmin(ThroughServices, admin.ModelAdmin):
    list_display = [
        "display_name", "slug", "user", "status", "verified", "pending_display_name",
        "pending_slug", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "verified"]
    search_fields = ["display_name", "slug", "pending_slug", "user__email"]
    # Names and slugs change through the services only: a rename is reviewed and its old slug
    # reserved (accounts.services.publisher_rename_review).
    readonly_fields = [
        "display_name", "slug", "pending_display_name", "pending_slug", "verified",
        "reviewed_at", "reviewed_by", "created_at",
    ]  # fmt: skip
    actions = [
        "approve", "approve_and_verify", "mark_verified", "reject", "approve_rename",
        "reject_rename",
    ]  # fmt: skip

    def has_review_permission(self, request) -> bool:
        return policies.may_review_publishers(request.user)

    def _review(self, request, queryset, *, approve, verified=None, note=""):
        self.each(
            request,
            queryset,
            lambda p: services.publisher_review(
                profile=p, reviewer=request.user, approve=approve, note=note, verified=verified
            ),
            done="Approved" if approve else "Rejected",
        )

    @admin.action(description="Approve selected applications", permissions=["review"])
    def approve(self, request, queryset):
        self._review(request, queryset, approve=True)

    @admin.action(description="Approve and mark verified", permissions=["review"])
    def approve_and_verify(self, request, queryset):
        self._review(request, queryset, approve=True, verified=True)

    @admin.action(description="Mark verified", permissions=["review"])
    def mark_verified(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda p: services.publisher_verify(profile=p, reviewer=request.user, verified=True),
            done="Verified",
        )

    @admin.action(description="Approve the waiting rename", permissions=["review"])
    def approve_rename(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda p: services.publisher_rename_review(
                profile=p, reviewer=request.user, approve=True
            ),
            done="Renamed",
        )

    @admin.action(
        description="Refuse the waiting rename (write the reason in the review note first)",
        permissions=["review"],
    )
    def reject_rename(self, request, queryset):
        self.each(
            request,
            queryset,
            lambda p: services.publisher_rename_review(
                profile=p,
                reviewer=request.user,
                approve=False,
                note=p.review_note or "The new name is not one this store can show for you.",
            ),
            done="Rename refused",
        )

    @admin.action(
        description="Reject (write the reason in the profile's review note first)",
        permissions=["review"],
    )
    def reject(self, request, queryset):
        for profile in queryset:
            self._review(
                request,
                [profile],
                approve=False,
                note=profile.review_note
                or "Your application does not meet the store's publishing rules.",
            )


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__email"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        # Keys are issued by the service (it shows the secret once); the admin cannot show it.
        return False

    def has_revoke_permission(self, request) -> bool:
        return policies.may_revoke_api_keys(request.user)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
