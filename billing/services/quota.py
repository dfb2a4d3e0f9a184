"""Quota writes: credit, hold, settle, release, expire and revoke rental packs.

Invariant: a pack's ``available`` and ``held`` always equal the sums of its ledger rows
(each change writes one row and applies the same deltas in the same transaction), and
neither can go negative (a conditional UPDATE here, a check constraint in the database).
Locks are always taken on packs in (expires_at, id) order, so two requests of the same
customer wait for each other instead of deadlocking.
"""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.models import Order, QuotaHold, QuotaLedgerEntry, QuotaPack
from billing.selectors import live_packs
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


def quota_hold(*, user, listing, tokens: int, request_id: str) -> QuotaHold:
    """Reserves ``tokens`` for one request, drawing from the packs that expire first.

    Atomic: the live packs are locked (select_for_update) before their balance is read, so
    concurrent holds never reserve more than the balance. Refused with 402
    insufficient_quota when the unexpired balance cannot cover the request.
    """
    if tokens <= 0:
        raise ApplicationError("A hold needs a positive number of tokens.", field="tokens")
    if not request_id:
        raise ApplicationError("A hold needs a request id.", field="request_id")
    try:
        with transaction.atomic():
            packs = list(live_packs(user=user, listing=listing).select_for_update())
            available = sum(pack.available for pack in packs)
            if available < tokens:
                raise ApplicationError(
                    f"This request needs up to {tokens} tokens but your quota for "
                    f"{listing.model_id} has {available} left.",
                    code="insufficient_quota",
                    status=402,
                )
            hold = QuotaHold.objects.create(
                request_id=request_id, user=user, listing=listing, tokens=tokens
            )
            remaining = tokens
            for pack in packs:
                take = min(pack.available, remaining)
                if take:
                    _move(
                        pack=pack, kind=Kind.HOLD, available_delta=-take, held_delta=take, hold=hold
                    )
                    remaining -= take
                if not remaining:
                    break
            return hold
    except IntegrityError as exc:
        if QuotaHold.objects.filter(request_id=request_id).exists():
            raise ApplicationError(
                "A hold already exists for this request id.", code="duplicate_request", status=409
            ) from exc
        raise


def _held_by_pack(hold: QuotaHold) -> list[tuple[QuotaPack, int]]:
    """The hold's tokens still reserved in each pack, packs locked in expiry order."""
    per_pack = dict(
        QuotaLedgerEntry.objects.filter(hold=hold)
        .values_list("pack_id")
        .annotate(held=Sum("held_delta"))
        .values_list("pack_id", "held")
    )
    packs = (
        QuotaPack.objects.select_for_update().filter(pk__in=per_pack).order_by("expires_at", "id")
    )
    return [(pack, per_pack[pack.pk]) for pack in packs if per_pack[pack.pk] > 0]


def _finish(*, request_id: str, used_tokens: int, status: str) -> bool:
    """Ends a hold; returns False when it had ended before (nothing changes then)."""
    now = timezone.now()
    with transaction.atomic():
        hold = QuotaHold.objects.select_for_update().filter(request_id=request_id).first()
        if hold is None:
            raise ApplicationError(
                "No hold exists for this request id.", code="hold_not_found", status=404
            )
        if hold.status != QuotaHold.Status.HELD:
            return False  # settled or released already: a retry or a late duplicate
        to_debit = min(used_tokens, hold.tokens)
        for pack, held in _held_by_pack(hold):
            debit = min(held, to_debit)
            if debit:
                _move(pack=pack, kind=Kind.DEBIT, available_delta=0, held_delta=-debit, hold=hold)
                to_debit -= debit
            rest = held - debit
            if rest:
                _move(
                    pack=pack, kind=Kind.RELEASE, available_delta=rest, held_delta=-rest, hold=hold
                )
                if pack.closed_at is not None or pack.expires_at <= now:
                    # Released into a pack that no longer counts: write it off at once.
                    closing = (
                        Kind.REFUND if pack.order.status == Order.Status.REFUNDED else Kind.EXPIRE
                    )
                    _close(pack=pack, kind=closing, now=pack.closed_at or now)
        hold.status = status
        hold.used_tokens = (
            min(used_tokens, hold.tokens) if status == QuotaHold.Status.SETTLED else 0
        )
        hold.finished_at = now
        hold.save(update_fields=["status", "used_tokens", "finished_at"])
    return True


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
