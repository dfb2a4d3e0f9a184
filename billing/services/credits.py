"""Pay per token: token prices, credit grants, and the credit hold → settle path.

Invariant (as for quota packs): an account's ``available`` and ``held`` always equal the
sums of its ledger rows and are never negative; a hold reserves the most a request may cost
at the prices current when it was admitted, and its settlement debits the exact cost (never
more than was held) and releases the rest, exactly once.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing import policies
from billing.models import (
    MICROCENTS_PER_CENT,
    CreditAccount,
    CreditHold,
    CreditLedgerEntry,
    TokenPrice,
)
from billing.money import format_microcents
from billing.services.ledger_sql import Combiner, ledger_call
from config.api_errors import ApplicationError
from config.utc_windows import seconds_to_next_month

# Cents per 1M tokens: $10,000 per million is a typo, not a price.
MAX_PRICE_PER_MTOK = 1_000_000
MAX_GRANT_CENTS = 1_000_000


def token_cost(*, prompt_tokens: int, completion_tokens: int, price) -> int:
    """What tokens cost at ``price`` (a TokenPrice or a CreditHold), in µ¢: exact, since a
    price in cents per 1M tokens is µ¢ per token. The one place a cost is computed."""
    return prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok


def token_price_set(*, listing, actor, input_per_mtok, output_per_mtok) -> TokenPrice:
    """A new price per token for ``listing`` (cents per 1M tokens, zero allowed: free).
    It applies to requests admitted after it; requests in flight keep theirs."""
    if not policies.may_edit_pricing(actor, listing):
        raise ApplicationError(
            "Only the listing's publisher can change its prices.", status=403, code="forbidden"
        )
    values = {}
    for field, value in (("input_per_mtok", input_per_mtok), ("output_per_mtok", output_per_mtok)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApplicationError("Prices are whole numbers of cents per 1M tokens.", field=field)
        if not 0 <= value <= MAX_PRICE_PER_MTOK:
            raise ApplicationError(
                f"A price per 1M tokens is between 0 and {MAX_PRICE_PER_MTOK} cents.", field=field
            )
        values[field] = value
    return TokenPrice.objects.create(listing=listing, created_by=actor, **values)


def credit_account_for(user) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


def _credit(
    *, user, amount: int, kind: str, reason: str, actor=None, topup=None
) -> CreditLedgerEntry:
    account = credit_account_for(user)
    with transaction.atomic():
        # The UPDATE locks the row until the ledger row is written with it.
        CreditAccount.objects.filter(pk=account.pk).update(available=F("available") + amount)
        return CreditLedgerEntry.objects.create(
            account=account,
            kind=kind,
            reason=reason,
            available_delta=amount,
            created_by=actor,
            topup=topup,
        )


def credits_grant(*, user, cents: int, actor, reason: str) -> CreditLedgerEntry:
    """Staff give credits (with ``billing.add_order``, like any grant), saying why."""
    if actor is not None and not policies.may_grant_access(actor):
        raise ApplicationError(
            "Only staff with grant rights can grant credits.", status=403, code="forbidden"
        )
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 < cents <= MAX_GRANT_CENTS:
        raise ApplicationError(
            f"A grant is a whole number of cents between 1 and {MAX_GRANT_CENTS}.", field="cents"
        )
    if not reason.strip():
        raise ApplicationError("Say why the credits are granted.", field="reason")
    return _credit(
        user=user,
        amount=cents * MICROCENTS_PER_CENT,
        kind=CreditLedgerEntry.Kind.GRANT,
        reason=reason.strip()[:200],
        actor=actor,
    )


def _hold_one(args: list) -> tuple:
    user, listing, amount, request, input_price, output_price, key, limit = args
    return ledger_call(
        "SELECT o_hold_id, o_available, o_refused, o_key_spent"
        " FROM billing_credit_hold(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            user, listing, amount, request, input_price, output_price,
            settings.LEDGER_SYNCHRONOUS_COMMIT, key, limit,
        ],
    )  # fmt: skip


def _finish_one(args: list) -> tuple:
    return ledger_call(
        "SELECT billing_credit_finish(%s, %s, %s, %s)",
        [*args, settings.LEDGER_SYNCHRONOUS_COMMIT],
    )


# Concurrent holds (and finishes) of this process share one statement and one commit.
_HOLDS = Combiner(
    single=_hold_one,
    many_sql="billing_credit_hold_many",
    types=["bigint", "bigint", "bigint", "text", "bigint", "bigint", "bigint", "bigint"],
)
_FINISHES = Combiner(
    single=_finish_one, many_sql="billing_credit_finish_many", types=["text", "bigint", "text"]
)


class KeyBudgetExceeded(ApplicationError):
    """The key's monthly spending limit cannot cover the request; ``retry_after`` seconds
    until the month turns (UTC)."""

    def __init__(self, message: str):
        super().__init__(message, code="budget_exceeded", status=429)
        self.retry_after = seconds_to_next_month()


def credits_hold(
    *,
    user,
    listing,
    price: TokenPrice,
    amount: int,
    request_id: str,
    api_key=None,
    purpose: str = CreditHold.Purpose.COMPLETION,
    gpt=None,
    markup_per_mtok: int = 0,
) -> CreditHold:
    """Reserves ``amount`` µ¢ (the request's maximum cost at ``price``) in one round trip
    (billing_credit_hold, migration 0009), counting it against ``api_key``'s monthly spending
    limit in the same transaction. 402 insufficient_quota when the balance cannot cover it,
    429 budget_exceeded when the key's limit cannot; nothing is written then. A training
    hold is marked with its ``purpose`` (the caller's transaction makes both one: the
    stale-hold sweep must never see it unmarked). A GPT's request names the GPT and the
    builder's ``markup_per_mtok`` (already part of ``price``), for the earnings split."""
    if amount < 0 or not request_id:
        raise ApplicationError("A credit hold needs an amount and a request id.", field="amount")
    key_id = api_key.pk if api_key is not None else None
    limit = getattr(api_key, "monthly_spend_limit", None)
    limit = limit * MICROCENTS_PER_CENT if limit else None
    try:
        hold_id, available, refused, key_spent = _HOLDS.call(
            [
                user.pk, listing.pk, amount, request_id, price.input_per_mtok,
                price.output_per_mtok, key_id, limit,
            ]
        )  # fmt: skip
    except IntegrityError as exc:
        raise ApplicationError(
            "A hold already exists for this request id.", code="duplicate_request", status=409
        ) from exc
    marks = {}
    if purpose != CreditHold.Purpose.COMPLETION:
        marks["purpose"] = purpose
    if gpt is not None:
        marks.update(gpt=gpt, markup_per_mtok=markup_per_mtok)
    if hold_id is not None and marks:
        CreditHold.objects.filter(pk=hold_id).update(**marks)
    if refused == "credits":
        raise ApplicationError(
            f"This request may cost up to {format_microcents(amount)} but your credit balance "
            f"is {format_microcents(available)}. Top up your credits on your account page.",
            code="insufficient_quota",
            status=402,
        )
    if refused == "key_budget":
        raise KeyBudgetExceeded(
            f"This key's monthly spending limit of {format_microcents(limit)} cannot cover this "
            f"request: it may cost up to {format_microcents(amount)} and "
            f"{format_microcents(key_spent)} is already spent or held this month."
        )
    return CreditHold(
        pk=hold_id,
        request_id=request_id,
        listing=listing,
        amount=amount,
        input_per_mtok=price.input_per_mtok,
        output_per_mtok=price.output_per_mtok,
        status=CreditHold.Status.HELD,
        purpose=purpose,
        gpt=gpt,
        markup_per_mtok=markup_per_mtok,
    )


def _finish(*, request_id: str, used: int, status: str) -> bool:
    (outcome,) = _FINISHES.call([request_id, used, status])
    if outcome == -1:
        raise ApplicationError(
            "No hold exists for this request id.", code="hold_not_found", status=404
        )
    return outcome == 1


def credits_settle(
    *, request_id: str, prompt_tokens: int, completion_tokens: int, hold: CreditHold | None = None
) -> int:
    """Debits the request's exact cost at the prices it was admitted at (at most what was
    held) and releases the rest; returns the cost in µ¢. Idempotent.

    ``hold``: the terms credits_hold answered at admission (amount and prices), when the
    caller kept them; the settlement is then one round trip (no read of the hold first)."""
    if hold is None:
        hold = CreditHold.objects.filter(request_id=request_id).first()
    if hold is None:
        raise ApplicationError(
            "No hold exists for this request id.", code="hold_not_found", status=404
        )
    cost = min(
        hold.amount,
        token_cost(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, price=hold),
    )
    _finish(request_id=request_id, used=cost, status=CreditHold.Status.SETTLED)
    if hold.markup_per_mtok:
        # A GPT's builder's part of the cost (the rest is the base model's publisher's);
        # earnings count the hold only once this is written (usage_earnings_roll_up).
        markup = min(cost, (prompt_tokens + completion_tokens) * hold.markup_per_mtok)
        CreditHold.objects.filter(request_id=request_id).update(markup_used=markup)
    return cost


def credits_release(*, request_id: str) -> None:
    """Gives the whole hold back (the request failed). Idempotent."""
    _finish(request_id=request_id, used=0, status=CreditHold.Status.RELEASED)


def credit_holds_release_stale(*, older_than_seconds: int = 900) -> int:
    """Gives back the credit holds of requests that died (never settled); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stale = CreditHold.objects.filter(
        status=CreditHold.Status.HELD,
        purpose=CreditHold.Purpose.COMPLETION,
        created_at__lt=cutoff,
    )
    return sum(
        _finish(request_id=request_id, used=0, status=CreditHold.Status.RELEASED)
        for request_id in list(stale.values_list("request_id", flat=True))
    )
