"""Who may move money outside a payment: each rule once, for the admin, views and services.

Staff status alone opens the admin, nothing more: refunds and grants need the specific
Django permission (a superuser has them all), so a support account with view rights
cannot give away or take back what customers paid for.
"""

REFUND_PERMISSION = "billing.change_order"
GRANT_PERMISSION = "billing.add_order"


def may_refund_orders(user) -> bool:
    """Refunding changes an order (paid → refunded): staff with ``change_order``."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(REFUND_PERMISSION))


def may_grant_access(user) -> bool:
    """A grant creates an order without payment: staff with ``add_order``."""
    return bool(user and user.is_active and user.is_staff and user.has_perm(GRANT_PERMISSION))
