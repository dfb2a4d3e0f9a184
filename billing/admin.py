"""Billing in the Django admin: orders (refund action, grant form), read-only ledgers.

Money rows are never edited here: refunds and grants go through billing.services so the
ledgers and their invariants hold; ledger and earnings rows are read-only.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse

from accounts.selectors import user_by_email
from billing import policies, selectors, services
from billing.forms import CreditGrantForm, GrantForm
from billing.models import (
    CreditAccount,
    CreditLedgerEntry,
    CreditTopUp,
    EarningsEntry,
    Entitlement,
    ListingTerms,
    Order,
    PriceOption,
    QuotaHold,
    QuotaLedgerEntry,
    QuotaPack,
    StripeEvent,
    TermsAcceptance,
)
from billing.money import format_microcents
from config.api_errors import ApplicationError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "short_number",
        "created_at",
        "user",
        "listing",
        "kind",
        "reason",
        "amount",
        "currency",
        "status",
    ]
    list_filter = ["status", "kind", "reason", "created_at"]
    search_fields = ["number", "user__email", "listing__slug", "listing__name", "payment_intent_id"]
    readonly_fields = [field.name for field in Order._meta.fields]
    actions = ["refund_orders"]
    date_hierarchy = "created_at"
    change_list_template = "admin/billing/order/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_refund_permission(self, request) -> bool:
        return policies.may_refund_orders(request.user)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_grant": policies.may_grant_access(request.user),
        }
        return super().changelist_view(request, extra_context)

    @admin.action(
        description="Refund selected orders (revokes what they paid for)", permissions=["refund"]
    )
    def refund_orders(self, request, queryset):
        refunded = 0
        for order in queryset:
            try:
                services.order_refund(order_id=order.pk, actor=request.user)
                refunded += 1
            except ApplicationError as exc:
                self.message_user(
                    request, f"Order {order.short_number}: {exc.message}", messages.ERROR
                )
        if refunded:
            self.message_user(request, f"{refunded} order(s) refunded.", messages.SUCCESS)

    def get_urls(self):
        grant = self.admin_site.admin_view(self.grant_view)
        return [path("grant/", grant, name="billing_order_grant"), *super().get_urls()]

    def grant_view(self, request):
        """Grant a purchase or a rental pack without payment (support, promotions)."""
        if not policies.may_grant_access(request.user):
            raise PermissionDenied("Granting access needs the permission to add orders.")
        form = GrantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            user = user_by_email(email=data["email"])
            listing = selectors.listing_by_model_id(model_id=data["model_id"])
            if user is None:
                form.add_error("email", "No customer has this email.")
            if listing is None:
                form.add_error("model_id", "No model has this id.")
            if form.is_valid():
                purchase = data["kind"] == "purchase"
                try:
                    order = services.grant_create(
                        user=user,
                        listing=listing,
                        actor=request.user,
                        purchase=purchase,
                        tokens=None if purchase else data["tokens"],
                        days=None if purchase else data["days"],
                    )
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(
                        request, f"Granted: order {order.short_number}.", messages.SUCCESS
                    )
                    return redirect(reverse("admin:billing_order_change", args=[order.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Grant access",
            "opts": self.model._meta,
        }
        return render(request, "admin/billing/order/grant.html", context)


@admin.register(PriceOption)
class PriceOptionAdmin(admin.ModelAdmin):
    list_display = ["listing", "kind", "amount", "currency", "tokens", "days", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["listing__slug", "listing__name"]
    readonly_fields = ["listing", "kind", "amount", "currency", "tokens", "days", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    list_display = ["user", "listing", "order", "created_at", "revoked_at"]
    search_fields = ["user__email", "listing__slug"]


class LedgerInline(admin.TabularInline):
    model = QuotaLedgerEntry
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "reason", "available_delta", "held_delta", "hold"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(QuotaPack)
class QuotaPackAdmin(ReadOnlyAdmin):
    list_display = ["user", "listing", "tokens", "available", "held", "expires_at", "closed_at"]
    search_fields = ["user__email", "listing__slug"]
    inlines = [LedgerInline]


@admin.register(QuotaLedgerEntry)
class QuotaLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "pack", "kind", "reason", "available_delta", "held_delta", "hold"]
    list_filter = ["kind"]


@admin.register(QuotaHold)
class QuotaHoldAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "user",
        "listing",
        "tokens",
        "used_tokens",
        "status",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["request_id", "user__email"]


@admin.register(EarningsEntry)
class EarningsEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "publisher", "listing", "kind", "gross", "fee", "net", "currency"]
    list_filter = ["kind"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at"]
    search_fields = ["event_id"]


@admin.register(ListingTerms)
class ListingTermsAdmin(ReadOnlyAdmin):
    list_display = ["listing", "text_sha256", "updated_at"]


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["user", "listing", "text_sha256", "order", "accepted_at"]


@admin.register(CreditTopUp)
class CreditTopUpAdmin(admin.ModelAdmin):
    """Top-ups are paid by card and refunded through billing.services.topups only."""

    list_display = [
        "short_number",
        "created_at",
        "user",
        "amount",
        "currency",
        "status",
        "refunded",
        "shortfall",
    ]
    list_filter = ["status", "created_at"]
    search_fields = ["number", "user__email", "payment_intent_id"]
    readonly_fields = [field.name for field in CreditTopUp._meta.fields]
    actions = ["refund_topups"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_refund_permission(self, request) -> bool:
        return policies.may_refund_topups(request.user)

    @admin.display(description="Refunded but already spent")
    def shortfall(self, topup) -> str:
        return format_microcents(topup.shortfall, topup.currency)

    @admin.action(
        description="Refund what is left of the selected top-ups (never below zero)",
        permissions=["refund"],
    )
    def refund_topups(self, request, queryset):
        for topup in queryset:
            try:
                done = services.topup_refund(topup_id=topup.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(
                    request, f"Top-up {topup.short_number}: {exc.message}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"Top-up {topup.short_number}: {done.refunded} cents refunded in all.",
                    messages.SUCCESS,
                )


class CreditLedgerInline(admin.TabularInline):
    model = CreditLedgerEntry
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "reason", "available_delta", "held_delta", "hold", "topup"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["user", "available", "held", "created_at"]
    search_fields = ["user__email"]
    inlines = [CreditLedgerInline]
    change_list_template = "admin/billing/creditaccount/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_grant": policies.may_grant_access(request.user),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        grant = self.admin_site.admin_view(self.grant_view)
        return [path("grant/", grant, name="billing_creditaccount_grant"), *super().get_urls()]

    def grant_view(self, request):
        """Grant credits with a reason (billing.services.credits_grant keeps the rules)."""
        if not policies.may_grant_access(request.user):
            raise PermissionDenied("Granting credits needs the permission to add orders.")
        form = CreditGrantForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            user = user_by_email(email=data["email"])
            if user is None:
                form.add_error("email", "No customer has this email.")
            else:
                try:
                    services.credits_grant(
                        user=user, cents=data["amount"], actor=request.user, reason=data["reason"]
                    )
                except ApplicationError as exc:
                    form.add_error(exc.field if exc.field == "reason" else None, exc.message)
                else:
                    self.message_user(
                        request, f"Granted credits to {user.email}.", messages.SUCCESS
                    )
                    return redirect(reverse("admin:billing_creditaccount_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Grant credits",
            "opts": self.model._meta,
        }
        return render(request, "admin/billing/creditaccount/grant.html", context)
