"""Billing reads: who may use or review a listing, balances, orders, usage and earnings."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from billing.models import (
    CreditAccount,
    CreditTopUp,
    EarningsEntry,
    Entitlement,
    KeySpend,
    ListingTerms,
    Order,
    PriceOption,
    QuotaLedgerEntry,
    QuotaPack,
    TermsAcceptance,
    TokenPrice,
    UsageEarningsEntry,
)
from billing.money import exact_major_units, major_units
from store import model_ids
from store.models import Listing, WeightFile
from store.policies import live_version_q


@dataclass(frozen=True)
class Access:
    """How a customer may use a listing: owned ("purchase"), rented ("rental") or not at all.

    ``available_tokens`` is the spendable rental balance over the unexpired packs of that
    listing (0 for a purchase or no access).
    """

    kind: str | None
    available_tokens: int


def _anonymous(user) -> bool:
    return user is None or not getattr(user, "is_authenticated", False)


def live_packs(*, user, listing, now: datetime | None = None) -> QuerySet[QuotaPack]:
    """Packs that still count: not closed and not past their expiry, soonest expiry first."""
    now = now or timezone.now()
    return QuotaPack.objects.filter(
        user=user, listing=listing, closed_at__isnull=True, expires_at__gt=now
    ).order_by("expires_at", "id")


def has_entitlement(*, user, listing) -> bool:
    if _anonymous(user):
        return False
    return Entitlement.objects.filter(user=user, listing=listing, revoked_at__isnull=True).exists()


def access_for(*, user, listing) -> Access:
    """A purchase (or being the listing's publisher) wins over rentals; a rental exists while
    an unexpired pack exists, even an exhausted one (the caller then answers "insufficient
    quota", not "no access")."""
    if _anonymous(user):
        return Access(kind=None, available_tokens=0)
    # The publisher uses their own model as an owner would (playground, API) without buying it.
    if listing.publisher.user_id == user.pk or has_entitlement(user=user, listing=listing):
        return Access(kind="purchase", available_tokens=0)
    totals = live_packs(user=user, listing=listing).aggregate(
        n=Count("id"), available=Sum("available")
    )
    if totals["n"]:
        return Access(kind="rental", available_tokens=int(totals["available"] or 0))
    return Access(kind=None, available_tokens=0)


def payer_for(*, access: Access, price: TokenPrice | None, tokens: int) -> str | None:
    """Which balance pays a request of up to ``tokens``, chosen once at admission: an owner
    uses the model freely; otherwise a live pack of this model pays first when it covers the
    request, then credits at the model's token prices; a pack too small for a model without
    token prices still answers (402 insufficient_quota). None: no way to pay (403)."""
    if access.kind == "purchase":
        return "purchase"
    if access.kind == "rental" and (access.available_tokens >= tokens or price is None):
        return "rental"
    if price is not None:
        return "credits"
    return None


def customer_can_review(*, user, listing) -> bool:
    """Verified buyers only: an active entitlement, or a rental pack with tokens really used."""
    if _anonymous(user):
        return False
    if has_entitlement(user=user, listing=listing):
        return True
    return QuotaLedgerEntry.objects.filter(
        pack__user=user, pack__listing=listing, kind=QuotaLedgerEntry.Kind.DEBIT
    ).exists()


def price_options_for(*, listing) -> list[PriceOption]:
    return list(
        PriceOption.objects.filter(listing=listing, active=True).order_by("kind", "amount", "id")
    )


def terms_for(*, listing) -> ListingTerms | None:
    return ListingTerms.objects.filter(listing=listing).first()


def terms_accepted(*, user, listing, terms: ListingTerms | None) -> bool:
    if terms is None:
        return True
    return TermsAcceptance.objects.filter(
        user=user, listing=listing, text_sha256=terms.text_sha256
    ).exists()


def orders_for(*, user) -> QuerySet[Order]:
    return (
        Order.objects.filter(user=user)
        .select_related("listing__publisher")
        .order_by("-created_at", "-id")
    )


def order_for(*, user, number) -> Order | None:
    """The customer's own order (staff may read any); None for anybody else."""
    orders = Order.objects.select_related("listing__publisher", "user")
    if not (user.is_authenticated and user.is_staff):
        orders = orders.filter(user=user)
    return orders.filter(number=number).first()


def entitlements_for(*, user) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.filter(user=user, revoked_at__isnull=True)
        .select_related("listing__publisher", "order")
        .order_by("-created_at")
    )


def packs_for(*, user) -> QuerySet[QuotaPack]:
    """All the customer's packs, latest expiry first, each with ``used`` (tokens debited)."""
    return (
        QuotaPack.objects.filter(user=user)
        .select_related("listing__publisher", "order")
        .annotate(debited=Sum("ledger_entries__held_delta", filter=Q(ledger_entries__kind="debit")))
        .order_by("-expires_at", "-id")
    )


def quota_overview(*, user, days: int = 30) -> dict:
    """The quota page: each pack with ``used`` and ``live`` (open and not expired), tokens
    debited per day (a chart and the days with use) and their total."""
    now = timezone.now()
    packs = list(packs_for(user=user))
    for pack in packs:
        pack.used = -(pack.debited or 0)
        pack.live = pack.closed_at is None and pack.expires_at > now
    usage = usage_per_day(user=user, days=days)
    return {
        "packs": packs,
        "usage": [row for row in usage if row[1]],
        "usage_total": sum(tokens for _, tokens in usage),
        "chart": {
            "labels": [day.isoformat() for day, _ in usage],
            "data": [tokens for _, tokens in usage],
        },
    }


def usage_per_day(*, user, days: int = 30, listing=None) -> list[tuple[date, int]]:
    """Tokens debited per day (from the quota ledger) over the last ``days`` days, zeros included."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    entries = QuotaLedgerEntry.objects.filter(
        pack__user=user, kind=QuotaLedgerEntry.Kind.DEBIT, created_at__date__gte=first
    )
    if listing is not None:
        entries = entries.filter(pack__listing=listing)
    totals = dict(
        entries.annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(used=Sum("held_delta"))
        .values_list("day", "used")
    )
    return [
        (first + timedelta(days=n), -int(totals.get(first + timedelta(days=n)) or 0))
        for n in range(days)
    ]


def earnings_for(*, publisher) -> QuerySet[EarningsEntry]:
    return (
        EarningsEntry.objects.filter(publisher=publisher)
        .select_related("listing", "order")
        .order_by("-created_at", "-id")
    )


def earnings_totals(*, publisher) -> dict:
    """Gross, fee and net over all time (refunds included), and the number of sales."""
    totals = EarningsEntry.objects.filter(publisher=publisher).aggregate(
        gross=Sum("gross"), fee=Sum("fee"), net=Sum("net"), sales=Count("id", filter=Q(kind="sale"))
    )
    return {key: int(value or 0) for key, value in totals.items()}


def earnings_per_listing(*, publisher) -> list[dict]:
    """Sales and refunds per listing, net first, each with its downloads."""
    rows = (
        EarningsEntry.objects.filter(publisher=publisher)
        .values("listing_id", "listing__name", "listing__slug")
        .annotate(
            gross=Sum("gross"),
            net=Sum("net"),
            sales=Count("id", filter=Q(kind="sale")),
            refunds=Count("id", filter=Q(kind="refund")),
        )
        .order_by("-net", "listing__name")
    )
    downloads = downloads_per_listing(publisher=publisher)
    return [{**row, "downloads": downloads.get(row["listing_id"], 0)} for row in rows]


def earnings_per_day(*, publisher, days: int = 30) -> dict:
    """Net earnings per day and per listing over the last ``days`` days, for a stacked chart."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    labels = [first + timedelta(days=n) for n in range(days)]
    rows = (
        EarningsEntry.objects.filter(publisher=publisher, created_at__date__gte=first)
        .annotate(day=TruncDate("created_at"))
        .values("day", "listing__name")
        .annotate(net=Sum("net"))
    )
    series: dict[str, dict[date, int]] = {}
    for row in rows:
        series.setdefault(row["listing__name"], {})[row["day"]] = int(row["net"])
    return {
        "labels": [day.isoformat() for day in labels],
        "datasets": [
            {"label": name, "data": [by_day.get(day, 0) for day in labels]}
            for name, by_day in sorted(series.items())
        ],
    }


def payout_rows(
    *, publisher, start: date | None = None, end: date | None = None
) -> QuerySet[EarningsEntry]:
    """Earnings rows in a date range (inclusive), oldest first, for the payout CSV."""
    rows = EarningsEntry.objects.filter(publisher=publisher).select_related(
        "listing__publisher", "order"
    )
    if start:
        rows = rows.filter(created_at__date__gte=start)
    if end:
        rows = rows.filter(created_at__date__lte=end)
    return rows.order_by("created_at", "id")


def downloadable_files_for(*, user, listing) -> list:
    """Weight files of the listing's live (processed, approved) versions, newest version
    first (owners only)."""
    if not has_entitlement(user=user, listing=listing):
        return []
    return list(
        WeightFile.objects.filter(live_version_q("version__"), version__listing=listing)
        .select_related("version")
        .order_by("-version__number", "path")
    )


def listing_by_model_id(*, model_id: str):
    """The listing named "<publisher_slug>/<listing_slug>", whatever its status, or None."""
    ref = model_ids.parse(model_id)
    if ref is None:
        return None
    return (
        Listing.objects.select_related("publisher")
        .filter(publisher__slug=ref.publisher_slug, slug=ref.slug)
        .first()
    )


def quota_ledger_mismatches() -> list[QuotaPack]:
    """Packs whose running totals differ from the sums of their ledger rows (should be none)."""
    return list(
        QuotaPack.objects.annotate(
            ledger_available=Coalesce(Sum("ledger_entries__available_delta"), 0),
            ledger_held=Coalesce(Sum("ledger_entries__held_delta"), 0),
        )
        .exclude(available=F("ledger_available"), held=F("ledger_held"))
        .select_related("user", "listing__publisher")
    )


def downloads_per_listing(*, publisher) -> dict[int, int]:
    """Downloads of each of the publisher's listings (all versions and files)."""
    rows = (
        WeightFile.objects.filter(version__listing__publisher=publisher)
        .values("version__listing_id")
        .annotate(downloads=Sum("download_count"))
    )
    return {row["version__listing_id"]: int(row["downloads"] or 0) for row in rows}


def token_price_for(*, listing) -> TokenPrice | None:
    """The listing's price per token now (its newest TokenPrice), or None: not sold per token."""
    return TokenPrice.objects.filter(listing=listing).order_by("-created_at", "-id").first()


def gpt_token_price_for(*, listing, markup_per_mtok: int) -> TokenPrice | None:
    """What a GPT's customer pays per token: its base model's price now plus the builder's
    markup on prompt and completion tokens alike (unsaved: the hold records it). None when
    the base model is not sold per token."""
    base = token_price_for(listing=listing)
    if base is None:
        return None
    return TokenPrice(
        listing=listing,
        input_per_mtok=base.input_per_mtok + markup_per_mtok,
        output_per_mtok=base.output_per_mtok + markup_per_mtok,
    )


def token_prices_for(*, listing_ids) -> dict:
    """The current TokenPrice of each of ``listing_ids`` that has one (one query)."""
    rows = (
        TokenPrice.objects.filter(listing_id__in=list(listing_ids))
        .order_by("listing_id", "-created_at", "-id")
        .distinct("listing_id")
    )
    return {row.listing_id: row for row in rows}


def credit_balance(*, user) -> int:
    """µ¢ the customer can spend now (0 without an account)."""
    if _anonymous(user):
        return 0
    return CreditAccount.objects.filter(user=user).values_list("available", flat=True).first() or 0


def credit_ledger_mismatches() -> list:
    """Credit accounts whose running totals differ from the sums of their ledger rows."""
    return list(
        CreditAccount.objects.annotate(
            ledger_available=Coalesce(Sum("ledger_entries__available_delta"), 0),
            ledger_held=Coalesce(Sum("ledger_entries__held_delta"), 0),
        ).exclude(available=F("ledger_available"), held=F("ledger_held"))
    )


LOW_BALANCE_MICROCENTS = 100 * 1_000_000  # $1.00


def key_spend_this_month(*, api_key_ids) -> dict[int, int]:
    """µ¢ each key spent or holds in credits this UTC calendar month (KeySpend rows)."""
    month = timezone.now().date().replace(day=1)
    rows = KeySpend.objects.filter(api_key_id__in=list(api_key_ids), month=month)
    return dict(rows.values_list("api_key_id", "spent"))


def credit_low(*, available: int) -> bool:
    """Whether a balance (µ¢) is low enough to say so (the account and credits pages)."""
    return available < LOW_BALANCE_MICROCENTS


def credit_summary(*, user) -> dict:
    available = credit_balance(user=user)
    return {"available": available, "low": credit_low(available=available)}


def credit_overview(*, user, limit: int = 50) -> dict:
    """The credits page: balance and held (µ¢), whether it is running low, recent ledger rows."""
    account = CreditAccount.objects.filter(user=user).first()
    topups = list(CreditTopUp.objects.filter(user=user).exclude(status="cancelled")[:10])
    if account is None:
        return {"available": 0, "held": 0, "low": True, "entries": [], "topups": topups}
    entries = list(
        account.ledger_entries.select_related("hold__listing__publisher").order_by("-id")[:limit]
    )
    return {
        "available": account.available,
        "held": account.held,
        "low": credit_low(available=account.available),
        "entries": entries,
        "topups": topups,
    }


def usage_earnings_totals(*, publisher) -> dict:
    """Per-token revenue counted so far (µ¢): gross, fee, net and requests, all time."""
    totals = UsageEarningsEntry.objects.filter(publisher=publisher).aggregate(
        gross=Sum("gross"), fee=Sum("fee"), net=Sum("net"), requests=Sum("requests")
    )
    return {key: int(value or 0) for key, value in totals.items()}


def usage_earnings_rows(*, publisher, start: date | None = None, end: date | None = None):
    """Usage earnings rows in a date range (inclusive), oldest first, for the payout CSV."""
    rows = UsageEarningsEntry.objects.filter(publisher=publisher).select_related(
        "listing__publisher"
    )
    if start:
        rows = rows.filter(created_at__date__gte=start)
    if end:
        rows = rows.filter(created_at__date__lte=end)
    return rows.order_by("created_at", "id")


def payout_report(*, publisher, start: date | None = None, end: date | None = None) -> list[list]:
    """The payout CSV's rows: a header, each sale or refund row in the range and a total per
    currency (whole cents), then the per-token usage rows and their total (exact µ¢)."""
    store_currency = settings.STORE_CURRENCY.upper()
    rows: list[list] = [
        ["date", "order", "model", "kind", "gross", "fee", "net", "currency", "fee_percent"]
    ]
    totals: dict[str, int] = {}
    for entry in payout_rows(publisher=publisher, start=start, end=end):
        rows.append(
            [
                entry.created_at.date().isoformat(), entry.order.short_number,
                entry.listing.model_id, entry.kind, major_units(entry.gross, entry.currency),
                major_units(entry.fee, entry.currency), major_units(entry.net, entry.currency),
                entry.currency.upper(), entry.fee_percent,
            ]
        )  # fmt: skip
        totals[entry.currency] = totals.get(entry.currency, 0) + entry.net
    for currency, net in sorted(totals.items()):
        rows.append(["total", "", "", "", "", "", major_units(net, currency), currency.upper(), ""])
    usage_net = 0
    for entry in usage_earnings_rows(publisher=publisher, start=start, end=end):
        rows.append(
            [
                entry.created_at.date().isoformat(), f"{entry.requests} requests",
                entry.listing.model_id, "usage", exact_major_units(entry.gross),
                exact_major_units(entry.fee), exact_major_units(entry.net), store_currency,
                entry.fee_percent,
            ]
        )  # fmt: skip
        usage_net += entry.net
    if usage_net:
        rows.append(
            ["usage total", "", "", "", "", "", exact_major_units(usage_net), store_currency, ""]
        )
    return rows
