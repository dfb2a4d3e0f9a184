"""Quota writes: credit, hold, settle, release, expire and revoke rental packs.

Invariant: a pack's ``available`` and ``held`` always equal the sums of its ledger rows
(each change writes one row and applies the same deltas in the same transaction), and
neither can go negative (a conditional UPDATE here, a check constraint in the database).
Locks are always taken on packs in (expires_at, id) order, so two requests of the same
customer wait for each other instead of deadlocking.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import Order, QuotaHold, QuotaLedgerEntry, QuotaPack
from billing.services.ledger_sql import Combiner, ledger_call
from config.api_errors import ApplicationError

Kind = QuotaLedgerEntry.Kind


def _move(
    *,
    pack: QuotaPack,
    kind: str,
    available_delta: int,
    held_delta: int = 0,
    hold=None,
    reason: str = "",
) -> QuotaLedgerEntry:
    """Writes one ledger row and applies it to the pack's running totals (caller holds the lock)."""
    updated = QuotaPack.objects.filter(
        pk=pack.pk,
        available__gte=-available_delta if available_delta < 0 else 0,
        held__gte=-held_delta if held_delta < 0 else 0,
    ).update(available=F("available") + available_delta, held=F("held") + held_delta)
    if updated != 1:
        raise ApplicationError(
            "The quota balance changed under this request.", code="quota_conflict", status=409
        )
    pack.available += available_delta
    pack.held += held_delta
    return QuotaLedgerEntry.objects.create(
        pack=pack,
        kind=kind,
        reason=reason,
        available_delta=available_delta,
        held_delta=held_delta,
        hold=hold,
    )


def quota_pack_credit(*, order: Order) -> QuotaPack:
    """Opens the pack a paid (or granted) rental order bought; one pack per order."""
    now = timezone.now()
    pack = QuotaPack.objects.create(
        user_id=order.user_id,
        listing_id=order.listing_id,
        order=order,
        tokens=order.tokens,
        expires_at=now + timedelta(days=order.days),
    )
    _move(pack=pack, kind=Kind.CREDIT, available_delta=order.tokens, reason=order.reason)
    return pack


def _close(*, pack: QuotaPack, kind: str, now, reason: str = "") -> None:
    """Stops a pack from counting and writes off what is left of its available tokens."""
    if pack.available:
        _move(pack=pack, kind=kind, available_delta=-pack.available, reason=reason)
    if pack.closed_at is None:
        pack.closed_at = now
        QuotaPack.objects.filter(pk=pack.pk).update(closed_at=now)


def quota_pack_revoke(*, order: Order, reason: str = "") -> None:
    """A refund (or a dispute, ``reason="dispute"``): what is left of the order's pack is
    taken back; in-flight holds may still be debited for tokens already generated, the
    rest of them is written off on release."""
    pack = QuotaPack.objects.select_for_update().filter(order=order).first()
    if pack is not None:
        _close(pack=pack, kind=Kind.REFUND, now=timezone.now(), reason=reason)


def quota_pack_restore(*, order: Order, reason: str) -> None:
    """A dispute won: the pack reopens with the tokens the dispute took (ledger rows with
    ``reason``), once; an expired pack stays closed (its tokens would expire anyway)."""
    pack = QuotaPack.objects.select_for_update().filter(order=order).first()
    if pack is None or pack.expires_at <= timezone.now():
        return
    taken = -sum(
        pack.ledger_entries.filter(kind=Kind.REFUND, reason=reason).values_list(
            "available_delta", flat=True
        )
    )
    if pack.ledger_entries.filter(kind=Kind.CREDIT, reason=f"{reason}_won").exists():
        return
    if taken:
        _move(pack=pack, kind=Kind.CREDIT, available_delta=taken, reason=f"{reason}_won")
    QuotaPack.objects.filter(pk=pack.pk).update(closed_at=None)


def _hold_one(args: list) -> tuple:
    return ledger_call(
        "SELECT o_hold_id, o_available FROM billing_quota_hold(%s, %s, %s, %s, %s)",
        [*args, settings.LEDGER_SYNCHRONOUS_COMMIT],
    )


def _finish_one(args: list) -> tuple:
    return ledger_call(
        "SELECT billing_quota_finish(%s, %s, %s, %s)", [*args, settings.LEDGER_SYNCHRONOUS_COMMIT]
    )


# Concurrent holds (and finishes) of this process share one statement and one commit.
_HOLDS = Combiner(
    single=_hold_one,
    many_sql="billing_quota_hold_many",
    types=["bigint", "bigint", "bigint", "text"],
)
_FINISHES = Combiner(
    single=_finish_one, many_sql="billing_quota_finish_many", types=["text", "bigint", "text"]
)


def quota_hold(*, user, listing, tokens: int, request_id: str) -> QuotaHold:
    """Reserves ``tokens`` for one request, drawing from the packs that expire first.

    One round trip (the database function billing_quota_hold, migration 0004, or one call
    of billing_quota_hold_many shared with this process's concurrent holds): the live packs
    are locked (FOR UPDATE) before their balance is read, so concurrent holds never reserve
    more than the balance, and nothing else runs while they are locked. Refused with
    402 insufficient_quota when the unexpired balance cannot cover the request (nothing
    written then).
    """
    if tokens <= 0:
        raise ApplicationError("A hold needs a positive number of tokens.", field="tokens")
    if not request_id:
        raise ApplicationError("A hold needs a request id.", field="request_id")
    try:
        hold_id, available = _HOLDS.call([user.pk, listing.pk, tokens, request_id])
    except IntegrityError as exc:
        if QuotaHold.objects.filter(request_id=request_id).exists():
            raise ApplicationError(
                "A hold already exists for this request id.", code="duplicate_request", status=409
            ) from exc
        raise
    if hold_id is None:
        raise ApplicationError(
            f"This request needs up to {tokens} tokens but your quota for "
            f"{listing.model_id} has {available} left.",
            code="insufficient_quota",
            status=402,
        )
    return QuotaHold(
        pk=hold_id,
        request_id=request_id,
        user=user,
        listing=listing,
        tokens=tokens,
        status=QuotaHold.Status.HELD,
    )


def _finish(*, request_id: str, used_tokens: int, status: str) -> bool:
    """Ends a hold in one round trip (billing_quota_finish, migration 0004): debits
    min(used, held) for a settlement, releases the rest, and writes off what is released into
    a pack that has closed or expired. False when it had ended before (nothing changes)."""
    (outcome,) = _FINISHES.call([request_id, used_tokens, status])
    if outcome == -1:
        raise ApplicationError(
            "No hold exists for this request id.", code="hold_not_found", status=404
        )
    return outcome == 1


def quota_settle(*, request_id: str, used_tokens: int) -> None:
    """Debits min(used, held) and releases the rest. Idempotent: a second call is a no-op."""
    if used_tokens < 0:
        raise ApplicationError("Used tokens cannot be negative.", field="used_tokens")
    _finish(request_id=request_id, used_tokens=used_tokens, status=QuotaHold.Status.SETTLED)


def quota_release(*, request_id: str) -> None:
    """Gives the whole hold back (the request failed). Idempotent."""
    _finish(request_id=request_id, used_tokens=0, status=QuotaHold.Status.RELEASED)


def holds_release_stale(*, older_than_seconds: int = 900) -> int:
    """Releases holds whose request died (never settled); returns how many were released."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = QuotaHold.objects.filter(
        status=QuotaHold.Status.HELD, created_at__lt=cutoff
    ).values_list("request_id", flat=True)
    released = 0
    for request_id in list(stale):
        released += _finish(request_id=request_id, used_tokens=0, status=QuotaHold.Status.RELEASED)
    return released


def quota_packs_expire() -> int:
    """Closes packs past their expiry, writing off their available tokens; returns how many."""
    now = timezone.now()
    expired = 0
    due = QuotaPack.objects.filter(closed_at__isnull=True, expires_at__lte=now).values_list(
        "pk", flat=True
    )
    for pack_id in list(due):
        with transaction.atomic():
            pack = (
                QuotaPack.objects.select_for_update()
                .filter(pk=pack_id, closed_at__isnull=True)
                .first()
            )
            if pack is None:
                continue
            _close(pack=pack, kind=Kind.EXPIRE, now=now)
            expired += 1
    return expired
