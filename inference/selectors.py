"""Inference reads: which models a customer may call, how they are described to clients,
and usage aggregates for the dashboards."""

from datetime import timedelta

from django.db.models import CharField, Count, F, Q, Sum, Value
from django.db.models.functions import Concat, TruncDate
from django.utils import timezone

from accounts.models import ApiKey, User
from billing.models import PriceOption
from billing.money import exact_major_units
from billing.selectors import access_for, key_spend_this_month, token_prices_for
from inference.limits import limits_usage
from inference.models import UsageRecord
from inference.training.selectors import (
    FINE_TUNED_PREFIX,
    fine_tuned_card,
    fine_tuned_cards,
    fine_tuned_playground_models,
)
from store import model_ids
from store.gpts.completion import GPT_PREFIX
from store.gpts.selectors import gpt_model_cards
from store.models import Listing, ListingVersion
from store.selectors import latest_live_versions, listing_for_model, served_model_id


def _public_listings():
    return (
        Listing.objects.filter(status=Listing.Status.APPROVED)
        .select_related("publisher")
        .order_by("publisher__slug", "slug")
    )


def usable_listings(*, user: User):
    """Approved listings the user may call: owned (an active entitlement, or the publisher's
    own), rented (a live pack), or sold per token (paid from credits)."""
    now = timezone.now()
    return (
        _public_listings()
        .filter(
            Q(entitlements__user=user, entitlements__revoked_at__isnull=True)
            | Q(publisher__user=user)
            | Q(token_prices__isnull=False)
            | Q(
                quota_packs__user=user,
                quota_packs__closed_at__isnull=True,
                quota_packs__expires_at__gt=now,
            )
        )
        .distinct()
    )


def _prices(listing_ids) -> dict[int, dict]:

    prices: dict[int, dict] = {pk: {"purchase": None, "rental_packs": []} for pk in listing_ids}
    # Per token, in the OpenRouter shape: major units per token as exact decimal strings.
    for listing_id, price in token_prices_for(listing_ids=listing_ids).items():
        prices[listing_id]["prompt"] = exact_major_units(price.input_per_mtok)
        prices[listing_id]["completion"] = exact_major_units(price.output_per_mtok)
    for option in PriceOption.objects.filter(listing_id__in=listing_ids, active=True).order_by(
        "amount", "id"
    ):
        entry = prices[option.listing_id]
        if option.kind == PriceOption.Kind.PURCHASE:
            entry["purchase"] = {"amount": option.amount, "currency": option.currency}
        else:
            entry["rental_packs"].append(
                {
                    "tokens": option.tokens,
                    "days": option.days,
                    "amount": option.amount,
                    "currency": option.currency,
                }
            )
    return prices


def _card(listing: Listing, version: ListingVersion, prices: dict) -> dict:
    return {
        "id": listing.model_id,
        "object": "model",
        "created": int(listing.created_at.timestamp()),
        "owned_by": listing.publisher.slug,
        "name": listing.name,
        "context_length": version.context_length,
        "version": version.number,  # the version this id answers with; pin it as id@v<N>
        "pricing": prices,
    }


def _cards(listings: list[Listing]) -> list[dict]:
    versions = latest_live_versions([listing.pk for listing in listings])
    prices = _prices(list(versions))
    return [
        _card(listing, versions[listing.pk], prices[listing.pk])
        for listing in listings
        if listing.pk in versions
    ]


def models_for_key(*, api_key: ApiKey) -> list[dict]:
    """The models this key's owner may call (owned or rented, with a ready version), in
    OpenAI's model object shape plus context length and prices."""

    # Then the key owner's fine-tuned models (inference/training) and the GPTs they may call.
    return (
        _cards(list(usable_listings(user=api_key.user)))
        + fine_tuned_cards(user=api_key.user)
        + gpt_model_cards(user=api_key.user)
    )


def model_card_for_key(*, api_key: ApiKey, model_id: str) -> dict | None:

    if model_id.startswith(FINE_TUNED_PREFIX):  # a fine-tuned model (inference/training)
        return fine_tuned_card(user=api_key.user, model_id=model_id)
    if model_id.startswith(GPT_PREFIX):  # a GPT (store/gpts)
        cards = gpt_model_cards(user=api_key.user, model_id=model_id)
        return cards[0] if cards else None
    ref = model_ids.parse(model_id)
    if ref is None:
        return None
    listing = (
        usable_listings(user=api_key.user)
        .filter(publisher__slug=ref.publisher_slug, slug=ref.slug)
        .first()
    )
    if listing is None:
        return None
    if ref.version is None:
        cards = _cards([listing])
        return cards[0] if cards else None
    # A pinned id: that version's card, when it is live.
    _, version = listing_for_model(model_id=ref.named())
    if version is None or version.listing_id != listing.pk:
        return None
    card = _card(listing, version, _prices([listing.pk])[listing.pk])
    return {**card, "id": served_model_id(requested=model_id, listing=listing)}


def playground_models(*, user: User) -> list[dict]:
    """What the playground offers: usable models with a ready version and their starters."""

    listings = list(usable_listings(user=user))
    versions = latest_live_versions([listing.pk for listing in listings])
    return [
        {
            "id": listing.model_id,
            "name": listing.name,
            "starters": listing.conversation_starters or [],
            "context_length": versions[listing.pk].context_length,
        }
        for listing in listings
        if listing.pk in versions
    ] + fine_tuned_playground_models(user=user)  # the user's fine-tuned models


# --- usage ---------------------------------------------------------------------------


def _since(days: int):
    return timezone.now() - timedelta(days=days)


def _daily(records, group_field: str, label_field: str) -> list[dict]:
    rows = (
        records.annotate(day=TruncDate("created_at"))
        .values("day", group_field, label_field)
        .annotate(
            requests=Count("id"),
            tokens=Sum("prompt_tokens") + Sum("completion_tokens"),
            charged=Sum("charged_tokens"),
            cost=Sum("cost"),
        )
        .order_by("day", label_field)
    )
    return [
        {
            "day": row["day"].isoformat(),
            "label": row[label_field] or "(playground)",
            "requests": row["requests"],
            "tokens": row["tokens"] or 0,
            "charged": row["charged"] or 0,
            "cost": row["cost"] or 0,  # µ¢ paid from credits
        }
        for row in rows
    ]


def _with_model_label(records):

    return records.annotate(
        model=Concat(
            F("listing__publisher__slug"), Value("/"), F("listing__slug"), output_field=CharField()
        )
    )


def _usage_totals(records) -> dict[str, int]:
    totals = records.aggregate(
        requests=Count("id"),
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        charged=Sum("charged_tokens"),
        cost=Sum("cost"),
    )
    return {key: value or 0 for key, value in totals.items()}


def usage_for_user(*, user: User, days: int = 30) -> dict:
    """A customer's requests and tokens per day, per model and per key, over ``days`` days."""
    records = _with_model_label(UsageRecord.objects.filter(user=user, created_at__gte=_since(days)))
    return {
        "days": days,
        "by_model": _daily(records, "listing_id", "model"),
        "by_key": _daily(records, "api_key_id", "api_key__name"),
        "totals": _usage_totals(records),
    }


def usage_export_rows(*, user: User, days: int = 30):
    """The usage CSV: one row per day, model and key (oldest first), tokens and spend (µ¢)."""
    records = _with_model_label(UsageRecord.objects.filter(user=user, created_at__gte=_since(days)))
    return (
        records.annotate(day=TruncDate("created_at"))
        .values("day", "model", "api_key__name", "access")
        .annotate(
            requests=Count("id"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            charged_tokens=Sum("charged_tokens"),
            cost=Sum("cost"),
        )
        .order_by("day", "model", "api_key__name", "access")
    )


def usage_for_publisher(*, publisher, days: int = 30) -> dict:
    """Requests and tokens per day on the publisher's models (no customer is identified)."""
    records = _with_model_label(
        UsageRecord.objects.filter(listing__publisher=publisher, created_at__gte=_since(days))
    )
    customers = records.values("user_id").distinct().count()
    return {
        "days": days,
        "by_model": _daily(records, "listing_id", "model"),
        "totals": {**_usage_totals(records), "customers": customers},
    }


def usage_by_version(*, listing: Listing, days: int = 30) -> dict[int, dict]:
    """Per version of ``listing`` over the last ``days``: requests, errors, tokens in and out,
    distinct customers (the publisher's studio shows them next to each version)."""
    rows = (
        UsageRecord.objects.filter(
            listing=listing, version__isnull=False, created_at__gte=_since(days)
        )
        .values("version_id")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=Q(status="error")),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            customers=Count("user_id", distinct=True),
        )
    )
    return {row.pop("version_id"): row for row in rows}


def quota_remaining(*, user: User) -> list[dict]:
    """Remaining rental quota per model (billing's balances)."""

    now = timezone.now()
    listings = (
        _public_listings()
        .filter(
            quota_packs__user=user,
            quota_packs__closed_at__isnull=True,
            quota_packs__expires_at__gt=now,
        )
        .distinct()
    )
    return [
        {
            "model": listing.model_id,
            "available": access_for(user=user, listing=listing).available_tokens,
        }
        for listing in listings
    ]


def key_budgets(*, user: User) -> list[dict]:
    """The user's active keys that have limits, with this month's tokens and credit spend
    (µ¢, held included) counted against them."""

    keys = ApiKey.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(requests_per_minute__isnull=False)
        | Q(tokens_per_minute__isnull=False)
        | Q(monthly_token_budget__isnull=False)
        | Q(monthly_spend_limit__isnull=False)
    )
    keys = list(keys.order_by("name"))
    spent = key_spend_this_month(api_key_ids=[key.pk for key in keys])
    rows = []
    for key in keys:
        used = limits_usage(api_key=key)["tokens_this_month"]
        budget = key.monthly_token_budget
        rows.append(
            {
                "name": key.name,
                "display": key.display,
                "requests_per_minute": key.requests_per_minute,
                "tokens_per_minute": key.tokens_per_minute,
                "monthly_token_budget": budget,
                "tokens_this_month": used,
                "budget_left": max(0, budget - used) if budget else None,
                "monthly_spend_limit": key.monthly_spend_limit,
                "spent_this_month": spent.get(key.pk, 0),
            }
        )
    return rows
