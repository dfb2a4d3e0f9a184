from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from billing import gateway, selectors, services
from billing.downloads import LINK_MAX_AGE, download_token_make
from billing.models import Order
from billing.views.checkout import own_order
from config.api_errors import ApplicationError


@login_required
def orders(request):
    return render(
        request, "billing/orders.html", {"orders": selectors.orders_for(user=request.user)}
    )


@login_required
def order_detail(request, number):
    """The order and, once paid, its printable receipt."""
    order = own_order(request, number)
    if (
        order.status == Order.Status.PENDING
        and order.payment_intent_id
        and order.user_id == request.user.pk
    ):
        # The webhook may be late (or lost): ask Stripe, fulfilling idempotently.
        try:
            order = services.order_sync(order=order)
        except (gateway.GatewayError, ApplicationError):
            pass  # the page still shows the order; the webhook will settle it
    return render(request, "billing/order_detail.html", {"order": order})


@login_required
def library(request):
    """Models the customer owns, each with fresh signed download links for its files."""
    owned = []
    for entitlement in selectors.entitlements_for(user=request.user):
        files = selectors.downloadable_files_for(user=request.user, listing=entitlement.listing)
        for weight_file in files:
            weight_file.download_token = download_token_make(
                user_id=request.user.pk, weight_file_id=weight_file.pk
            )
        owned.append({"entitlement": entitlement, "files": files})
    return render(
        request, "billing/library.html", {"owned": owned, "link_minutes": LINK_MAX_AGE // 60}
    )


@login_required
def quota(request):
    """Rental balances with their expiry, and tokens used per day."""
    return render(request, "billing/quota.html", selectors.quota_overview(user=request.user))


@login_required
def credits(request):
    """The credit balance, a low-balance notice, top-ups and the ledger behind it."""
    return render(
        request,
        "billing/credits.html",
        {
            **selectors.credit_overview(user=request.user),
            "presets": settings.TOPUP_PRESETS_CENTS,
            "topup_min": settings.TOPUP_MIN_CENTS,
            "topup_max": settings.TOPUP_MAX_CENTS,
            "currency": settings.STORE_CURRENCY,
        },
    )
