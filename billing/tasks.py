"""Periodic billing upkeep (Celery beat): release holds of dead requests, expire packs
and unpaid orders and top-ups."""

import logging

from celery import shared_task

from billing.services import (
    credit_holds_release_stale,
    holds_release_stale,
    orders_expire,
    quota_packs_expire,
    topups_expire,
    usage_earnings_roll_up,
)

log = logging.getLogger(__name__)

# Longer than any request may run (INFERENCE_REQUEST_TIMEOUT is 300 s by default).
STALE_HOLD_SECONDS = 900


@shared_task(name="billing.release_stale_holds", ignore_result=True)
def release_stale_holds() -> int:
    released = holds_release_stale(older_than_seconds=STALE_HOLD_SECONDS)
    released_credits = credit_holds_release_stale(older_than_seconds=STALE_HOLD_SECONDS)
    if released or released_credits:
        log.info("Released %d stale quota and %d stale credit holds.", released, released_credits)
    return released + released_credits


@shared_task(name="billing.expire_quota_packs", ignore_result=True)
def expire_quota_packs() -> int:
    expired = quota_packs_expire()
    if expired:
        log.info("Expired %d quota packs.", expired)
    return expired


@shared_task(name="billing.expire_pending_orders", ignore_result=True)
def expire_pending_orders() -> int:
    expired = orders_expire()
    topups = topups_expire()
    if expired or topups:
        log.info("Cancelled %d unpaid orders and %d unpaid top-ups past expiry.", expired, topups)
    return expired + topups


@shared_task(name="billing.roll_up_usage_earnings", ignore_result=True)
def roll_up_usage_earnings() -> int:
    made = usage_earnings_roll_up()
    if made:
        log.info("Counted per-token spend into %d usage earnings entries.", made)
    return made
