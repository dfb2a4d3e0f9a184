"""Who may move money outside a payment: each rule once, for the admin, views and services.

Staff status alone opens the admin, nothing more: refunds and grants need the specific
Django permission (a superuser has them all), so a support account with view rights
cannot give away or take back what customers paid for.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from billing.selectors import has_entitlement

REFUND_PERMISSION = "billing.change_order"
GRANT_PERMISSION = "billing.add_order"
VIEW_ORDERS_PERMISSION = "billing.view_order"
PRICING_PERMISSION = "billing.change_priceoption"
TOPUP_REFUND_PERMISSION = "billing.change_credittopup"
VIEW_TOPUPS_PERMISSION = "billing.view_credittopup"


def may_refund_orders(user) -> bool:
    """Refunding changes an order (paid → refunded): staff with ``change_order``."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(REFUND_PERMISSION))


def may_view_order(user, order) -> bool:
    """The customer's own order; staff read others' only with ``view_order``."""
    if not (user and user.is_authenticated):
        return False
    return order.user_id == user.pk or (user.is_staff and user.has_perm(VIEW_ORDERS_PERMISSION))


def may_refund_topups(user) -> bool:
    """Refunding a top-up takes credits back: staff with ``change_credittopup``."""
    return bool(
        user and user.is_active and user.is_staff and user.has_perm(TOPUP_REFUND_PERMISSION)
    )


def may_view_topup(user, topup) -> bool:
    """The customer's own top-up (its receipt); staff only with ``view_credittopup``."""
    if not (user and user.is_authenticated):
        return False
    return topup.user_id == user.pk or (user.is_staff and user.has_perm(VIEW_TOPUPS_PERMISSION))


def may_edit_pricing(user, listing) -> bool:
    """The listing's publisher; staff only with ``change_priceoption``."""
    if not (user and user.is_authenticated):
        return False
    return listing.publisher.user_id == user.pk or (
        user.is_staff and user.has_perm(PRICING_PERMISSION)
    )


def may_grant_access(user) -> bool:
    """A grant creates an order without payment: staff with ``add_order``."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(GRANT_PERMISSION))


@dataclass(frozen=True)
class Unpayable:
    code: str
    message: str


def order_unpayable(*, order, expiry: bool = True) -> Unpayable | None:
    """Why an order can no longer be paid (or, once paid, fulfilled), or None.

    Checked when the PaymentIntent is made, just before a charge, and when Stripe says the
    money came: the listing must still be on sale, at the price the order copied, and a
    purchase must not buy a model the customer already owns. ``expiry=False`` at
    fulfilment: money that arrived for an order still open is taken at its price.
    """
    if order.reason != "sale":
        return None
    if not order.listing.is_public:
        return Unpayable("listing_unavailable", "This model is no longer on sale.")
    option = order.price_option
    if (
        option is None
        or not option.active
        or (
            (option.amount, option.currency.lower(), option.tokens, option.days)
            != (order.amount, order.currency.lower(), order.tokens, order.days)
        )
    ):
        return Unpayable(
            "price_changed",
            "This price is no longer on sale; start again from the model's page.",
        )
    if order.kind == "purchase" and has_entitlement(user=order.user, listing=order.listing):
        return Unpayable("already_owned", "You already own this model.")
    if expiry and order.created_at < timezone.now() - timedelta(hours=settings.ORDER_PENDING_HOURS):
        return Unpayable("order_expired", "This order expired; start again from the model's page.")
    return None
