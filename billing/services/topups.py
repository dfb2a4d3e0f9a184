"""Credit top-ups: buying credits by card, and taking them back on a refund or a dispute.

Invariants:
- a top-up adds its amount to the balance exactly once, when Stripe says the money came
  (the row is locked; only a pending or failed top-up becomes paid, and only for a
  PaymentIntent of its own amount and currency);
- a refund or a dispute takes back at most what is left: credits are fungible, so what is
  left of a top-up is the lesser of its unrefunded amount and the balance available now.
  The balance never goes below zero; credits held by running requests are not taken (they
  settle as usual). What was refunded beyond that had been spent: the store bears it, and
  staff see it as the top-up's shortfall;
- a staff refund takes the credits off first and then asks Stripe for exactly that many
  cents, so credits whose money is on its way back can never be spent; if Stripe refuses,
  the credits come back (a "restore" ledger row) and the top-up is as it was;
- Stripe's ``charge.refunded`` carries the cumulative amount refunded: only the part not
  yet recorded here (a refund made in Stripe's dashboard) is taken back, so our own
  refund is never counted twice, whichever arrives first.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing import gateway, policies
from billing.models import MICROCENTS_PER_CENT, CreditAccount, CreditLedgerEntry, CreditTopUp
from billing.money import format_amount
from billing.services.credits import _credit
from billing.services.intents import (
    payment_intent_cancel_on_commit,
    payment_intent_charge_token,
    payment_intent_for,
)
from config.api_errors import ApplicationError

log = logging.getLogger(__name__)
S = CreditTopUp.Status
REFUNDABLE = {S.PAID, S.PARTLY_REFUNDED}


def topup_bounds() -> tuple[int, int]:
    return settings.TOPUP_MIN_CENTS, settings.TOPUP_MAX_CENTS


def topup_start(*, user, cents: int) -> CreditTopUp:
    """Finds or creates the customer's pending top-up of ``cents`` (a double click or a
    reload finds the same one). Refuses amounts outside TOPUP_MIN_CENTS..TOPUP_MAX_CENTS."""
    low, high = topup_bounds()
    currency = settings.STORE_CURRENCY
    if isinstance(cents, bool) or not isinstance(cents, int) or not low <= cents <= high:
        raise ApplicationError(
            f"A top-up is between {format_amount(low, currency)} and "
            f"{format_amount(high, currency)}.",
            field="amount",
            code="invalid_amount",
        )
    pending = CreditTopUp.objects.filter(user=user, amount=cents, status=S.PENDING).first()
    if pending is not None and not _expired(pending):
        return pending
    if pending is not None:
        topup_cancel(topup_id=pending.pk, message="This top-up expired; start again.")
    try:
        with transaction.atomic():
            return CreditTopUp.objects.create(user=user, amount=cents, currency=currency)
    except IntegrityError:
        return CreditTopUp.objects.get(user=user, amount=cents, status=S.PENDING)


def _expired(topup: CreditTopUp) -> bool:
    return topup.created_at < timezone.now() - timedelta(hours=settings.ORDER_PENDING_HOURS)


def topup_payment_intent_ensure(*, topup: CreditTopUp) -> gateway.PaymentSnapshot:
    """The top-up's PaymentIntent, created on first use (outside any transaction; the id
    is stored with a conditional UPDATE so a race keeps the first)."""
    if topup.status != S.PENDING:
        raise ApplicationError(
            "This top-up is not awaiting payment.", status=409, code="not_payable"
        )
    return payment_intent_for(
        payable=topup,
        amount=topup.amount,
        currency=topup.currency,
        reference={"topup_number": str(topup.number), "description": "Credit top-up"},
        idempotency_key=f"topup-{topup.number}-intent",
    )


def topup_pay_with_token(*, topup: CreditTopUp, token_id: str) -> gateway.PaymentSnapshot:
    """The server half of the localstripe card form (see billing.gateway)."""
    intent = payment_intent_charge_token(
        intent=topup_payment_intent_ensure(topup=topup),
        token_id=token_id,
        declined=lambda message: topup_fail(topup_id=topup.pk, message=message),
    )
    topup_apply_intent(topup_id=topup.pk, intent=intent)
    return intent


def topup_sync(*, topup: CreditTopUp) -> CreditTopUp:
    """Asks Stripe how the payment went and applies it (for a late or lost webhook)."""
    if topup.status not in {S.PENDING, S.FAILED} or not topup.payment_intent_id:
        return topup
    intent = gateway.payment_intent_retrieve(payment_intent_id=topup.payment_intent_id)
    return topup_apply_intent(topup_id=topup.pk, intent=intent)


def topup_apply_intent(*, topup_id: int, intent: gateway.PaymentSnapshot) -> CreditTopUp:
    if intent.status == "succeeded":
        return topup_fulfil(topup_id=topup_id, intent=intent)
    if intent.status == "requires_payment_method" and intent.failure_message:
        return topup_fail(topup_id=topup_id, message=intent.failure_message)
    return CreditTopUp.objects.get(pk=topup_id)


def topup_fulfil(*, topup_id: int, intent: gateway.PaymentSnapshot) -> CreditTopUp:
    """Credits a paid top-up, exactly once. A failed or cancelled top-up still becomes paid
    when Stripe says the money came (events out of order, a race with the card form): the
    customer paid, so the credits are theirs."""
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status not in {S.PENDING, S.FAILED, S.CANCELLED}:
            return topup
        if intent.amount != topup.amount or intent.currency.lower() != topup.currency.lower():
            log.error("PaymentIntent %s does not match top-up %s.", intent.id, topup.number)
            raise ApplicationError(
                "The payment does not match the top-up.", status=409, code="amount_mismatch"
            )
        topup.status = S.PAID
        topup.paid_at = timezone.now()
        topup.failure_message = ""
        topup.payment_intent_id = topup.payment_intent_id or intent.id
        topup.save(update_fields=["status", "paid_at", "failure_message", "payment_intent_id"])
        _credit(
            user=topup.user,
            amount=topup.amount * MICROCENTS_PER_CENT,
            kind=CreditLedgerEntry.Kind.TOPUP,
            reason=f"Top-up {topup.short_number}",
            topup=topup,
        )
    return topup


def topup_fail(*, topup_id: int, message: str) -> CreditTopUp:
    """A declined card: the pending top-up becomes failed (the customer may start again)."""
    CreditTopUp.objects.filter(pk=topup_id, status=S.PENDING).update(
        status=S.FAILED, failure_message=(message or "The payment failed.")[:500]
    )
    return CreditTopUp.objects.get(pk=topup_id)


def topup_cancel(*, topup_id: int, message: str) -> bool:
    """Closes a pending top-up and cancels its PaymentIntent after commit; money that still
    arrives for it is credited all the same (topup_fulfil)."""
    cancelled = CreditTopUp.objects.filter(pk=topup_id, status=S.PENDING).update(
        status=S.CANCELLED, failure_message=message[:500]
    )
    intent_id = CreditTopUp.objects.filter(pk=topup_id).values_list("payment_intent_id", flat=True)
    intent_id = intent_id[0] if intent_id else None
    if cancelled and intent_id:
        payment_intent_cancel_on_commit(payment_intent_id=intent_id)
    return bool(cancelled)


def topups_expire() -> int:
    """Cancels pending top-ups older than ORDER_PENDING_HOURS (Celery beat)."""
    cutoff = timezone.now() - timedelta(hours=settings.ORDER_PENDING_HOURS)
    stale = CreditTopUp.objects.filter(status=S.PENDING, created_at__lt=cutoff)
    message = "This top-up expired; start again from the credits page."
    return sum(
        topup_cancel(topup_id=pk, message=message) for pk in stale.values_list("pk", flat=True)
    )


def _take_back(topup: CreditTopUp, *, most: int, reason: str) -> int:
    """Takes up to ``most`` µ¢ off the top-up owner's available balance (never below zero);
    returns what was taken. Call inside a transaction holding the top-up's row lock."""
    account = CreditAccount.objects.select_for_update().get(user_id=topup.user_id)
    taken = min(most, account.available)
    if taken > 0:
        CreditAccount.objects.filter(pk=account.pk).update(available=F("available") - taken)
        CreditLedgerEntry.objects.create(
            account=account,
            kind=CreditLedgerEntry.Kind.REFUND,
            reason=reason[:200],
            available_delta=-taken,
            topup=topup,
        )
    return taken


def _give_back(topup: CreditTopUp, *, amount: int, reason: str) -> None:
    if amount > 0:
        _credit(
            user=topup.user,
            amount=amount,
            kind=CreditLedgerEntry.Kind.RESTORE,
            reason=reason,
            topup=topup,
        )


def _refund_status(topup: CreditTopUp) -> str:
    if topup.refunded == 0:
        return S.PAID
    return S.REFUNDED if topup.refunded >= topup.amount else S.PARTLY_REFUNDED


def topup_refund(*, topup_id: int, actor) -> CreditTopUp:
    """Staff refund of what is left of a top-up: the unspent part goes back to the card.

    The credits are taken off first (whole cents: what Stripe can refund), then Stripe is
    asked for that amount; if Stripe refuses, the credits are given back. 409
    ``nothing_to_refund`` when the balance holds nothing of it any more (it was spent).
    """
    if not policies.may_refund_topups(actor):
        raise ApplicationError("Only staff can refund top-ups.", status=403, code="forbidden")
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status not in REFUNDABLE:
            raise ApplicationError(
                "Only paid top-ups can be refunded.", status=409, code="not_refundable"
            )
        available = CreditAccount.objects.select_for_update().get(user_id=topup.user_id).available
        cents = min(topup.amount - topup.refunded, available // MICROCENTS_PER_CENT)
        if cents <= 0:
            raise ApplicationError(
                "Nothing is left of this top-up to refund: its credits have been spent.",
                status=409,
                code="nothing_to_refund",
            )
        taken = _take_back(
            topup,
            most=cents * MICROCENTS_PER_CENT,
            reason=f"Refund of top-up {topup.short_number}",
        )
        topup.refunded += cents
        topup.removed += taken
        topup.status = _refund_status(topup)
        topup.refunded_at = timezone.now()
        topup.save(update_fields=["refunded", "removed", "status", "refunded_at"])
        refunded_after = topup.refunded
    try:
        refund_id = gateway.refund_create(
            payment_intent_id=topup.payment_intent_id,
            reference={"topup_number": str(topup.number)},
            # One key per partial refund: a retry of this one returns the same refund.
            idempotency_key=f"topup-{topup.number}-refund-{refunded_after}",
            amount=cents,
        )
    except gateway.GatewayError as exc:
        _refund_undo(topup_id=topup.pk, cents=cents, taken=taken)
        raise ApplicationError(exc.message, status=502, code=exc.code) from exc
    CreditTopUp.objects.filter(pk=topup.pk).update(refund_id=refund_id)
    topup.refund_id = refund_id
    return topup


def _refund_undo(*, topup_id: int, cents: int, taken: int) -> None:
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        topup.refunded -= cents
        topup.removed -= taken
        topup.status = _refund_status(topup)
        topup.save(update_fields=["refunded", "removed", "status"])
        _give_back(
            topup, amount=taken, reason=f"Refund of top-up {topup.short_number} failed at Stripe"
        )


def topup_refunded_by_stripe(*, topup_id: int, amount_refunded: int, refund_id: str) -> None:
    """``charge.refunded``: Stripe's cumulative ``amount_refunded`` (cents). What is not yet
    recorded here (a refund made outside the store) takes back what is left, never more."""
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status not in REFUNDABLE | {S.DISPUTED}:
            return
        new = min(amount_refunded, topup.amount) - topup.refunded
        if new <= 0:
            return  # our own refund, already recorded (or an older event)
        taken = _take_back(
            topup,
            most=new * MICROCENTS_PER_CENT,
            reason=f"Refund of top-up {topup.short_number} (made at Stripe)",
        )
        if taken < new * MICROCENTS_PER_CENT:
            log.warning(
                "Top-up %s: %d cents refunded at Stripe but only %d µ¢ were left to take back.",
                topup.number,
                new,
                taken,
            )
        topup.refunded += new
        topup.removed += taken
        if topup.status != S.DISPUTED:
            topup.status = _refund_status(topup)
        topup.refunded_at = timezone.now()
        topup.refund_id = refund_id or topup.refund_id
        topup.save(update_fields=["refunded", "removed", "status", "refunded_at", "refund_id"])


def topup_dispute_open(*, topup_id: int) -> None:
    """A chargeback: what is left of the disputed top-up is taken off at once (the money is
    withdrawn), to be given back if the dispute is won. Idempotent."""
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status not in REFUNDABLE:
            return
        taken = _take_back(
            topup,
            most=(topup.amount - topup.refunded) * MICROCENTS_PER_CENT,
            reason=f"Dispute on top-up {topup.short_number}",
        )
        topup.dispute_removed = taken
        topup.status = S.DISPUTED
        topup.save(update_fields=["dispute_removed", "status"])


def topup_dispute_won(*, topup_id: int) -> None:
    """The dispute was decided for us: the credits it took come back. Idempotent."""
    with transaction.atomic():
        topup = CreditTopUp.objects.select_for_update().get(pk=topup_id)
        if topup.status != S.DISPUTED:
            return
        _give_back(
            topup,
            amount=topup.dispute_removed,
            reason=f"Dispute on top-up {topup.short_number} won",
        )
        topup.dispute_removed = 0
        topup.status = _refund_status(topup)
        topup.save(update_fields=["dispute_removed", "status"])


def topup_dispute_lost(*, topup_id: int) -> None:
    """The money stays with the cardholder: what the dispute took stays taken."""
    CreditTopUp.objects.filter(pk=topup_id, status=S.DISPUTED).update(
        removed=F("removed") + F("dispute_removed"), dispute_removed=0
    )
