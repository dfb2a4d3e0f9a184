"""Billing writes. Each module holds one idea; this package is the public surface."""

from billing.services.credits import (
    credit_account_for,
    credits_grant,
    credits_hold,
    credits_release,
    credits_settle,
    token_cost,
    token_price_set,
)
from billing.services.earnings import earnings_record_refund, earnings_record_sale
from billing.services.orders import (
    grant_create,
    order_apply_intent,
    order_cancel,
    order_fail,
    order_fulfil,
    order_mark_refunded,
    order_pay_with_token,
    order_payment_intent_ensure,
    order_refund,
    order_start,
    order_sync,
    orders_cancel_pending,
    orders_expire,
)
from billing.services.pricing import listing_terms_set, price_option_add, price_option_deactivate
from billing.services.quota import (
    holds_release_stale,
    quota_hold,
    quota_pack_credit,
    quota_pack_revoke,
    quota_packs_expire,
    quota_release,
    quota_settle,
)
from billing.services.webhooks import stripe_event_process

__all__ = [
    "credit_account_for",
    "credits_grant",
    "credits_hold",
    "credits_release",
    "credits_settle",
    "token_cost",
    "token_price_set",
    "earnings_record_refund",
    "earnings_record_sale",
    "grant_create",
    "holds_release_stale",
    "listing_terms_set",
    "order_apply_intent",
    "order_cancel",
    "order_fail",
    "order_fulfil",
    "order_mark_refunded",
    "order_pay_with_token",
    "order_payment_intent_ensure",
    "order_refund",
    "order_start",
    "order_sync",
    "orders_cancel_pending",
    "orders_expire",
    "price_option_add",
    "price_option_deactivate",
    "quota_hold",
    "quota_pack_credit",
    "quota_pack_revoke",
    "quota_packs_expire",
    "quota_release",
    "quota_settle",
    "stripe_event_process",
]
