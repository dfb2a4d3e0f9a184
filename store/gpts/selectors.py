"""GPT reads: the GPT store's shelves and search, a GPT's page, conversations, the
builder's numbers, and GPTs as /v1 models."""

from datetime import timedelta

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Avg, Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import BuilderEarningsEntry
from billing.money import exact_major_units
from billing.selectors import token_prices_for
from config.api_errors import ApplicationError
from inference.models import UsageRecord
from store.gpts import policies
from store.gpts.completion import gpt_for_use
from store.gpts.models import (
    ChatMessage,
    Conversation,
    Gpt,
    GptCategory,
    GptRating,
    GptReport,
)
from store.models import Listing
from store.policies import live_version_q
from store.selectors import latest_live_versions

TRENDING_DAYS = 7
SHELF = 8


def _listed():
    return (
        Gpt.objects.filter(**policies.listed_filter())
        .select_related("profile", "published__category", "published__base_listing__publisher")
        .annotate(
            rating=Avg("ratings__stars"),
            ratings_count=Count("ratings", distinct=True),
            conversations_count=Count("conversations", distinct=True),
        )
    )


def gpt_store_front() -> dict:
    """Featured picks, trending (most new conversations in TRENDING_DAYS days) and the top
    of each category (best rated, then most used)."""
    since = timezone.now() - timedelta(days=TRENDING_DAYS)
    trending = (
        _listed()
        .annotate(
            recent=Count(
                "conversations", filter=Q(conversations__created_at__gte=since), distinct=True
            )
        )
        .filter(recent__gt=0)
        .order_by("-recent", "-conversations_count", "pk")[:SHELF]
    )
    shelves = []
    for category in GptCategory.objects.all():
        top = list(
            _listed()
            .filter(published__category=category)
            .order_by("-rating", "-conversations_count", "pk")[:SHELF]
        )
        if top:
            shelves.append({"category": category, "gpts": top})
    return {
        "featured": list(_listed().filter(featured=True).order_by("-updated_at")[:SHELF]),
        "trending": list(trending),
        "shelves": shelves,
        "categories": list(GptCategory.objects.all()),
    }


def gpt_search(*, query: str = "", category: str = "") -> list[Gpt]:
    """Listed GPTs matching ``query`` (words of the name, description and builder), best
    match first; ``category``: a category's slug."""
    gpts = _listed()
    if category:
        gpts = gpts.filter(published__category__slug=category)
    query = query.strip()
    if not query:
        return list(gpts.order_by("-rating", "-conversations_count", "pk")[:60])
    vector = (
        SearchVector("published__name", weight="A", config="english")
        + SearchVector("published__description", weight="B", config="english")
        + SearchVector("profile__display_name", weight="C", config="english")
    )
    search = SearchQuery(query, search_type="websearch", config="english")
    # ts_rank gives non-matching rows a tiny positive rank: filter on the match itself.
    return list(
        gpts.annotate(document=vector, rank=SearchRank(vector, search))
        .filter(Q(document=search) | Q(published__name__icontains=query))
        .order_by("-rank", "-conversations_count", "pk")[:60]
    )


def gpt_at(*, handle: str, slug: str) -> Gpt | None:
    return (
        Gpt.objects.select_related(
            "profile", "published__category", "published__base_listing__publisher"
        )
        .filter(profile__handle=handle, slug=slug)
        .first()
    )


def has_chatted(*, user, gpt: Gpt) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return ChatMessage.objects.filter(
        conversation__gpt=gpt, conversation__user=user, role=ChatMessage.Role.ASSISTANT
    ).exists()


def gpt_page(*, gpt: Gpt, user) -> dict:
    """What a GPT's store page shows (never its instructions or knowledge files)."""
    stats = GptRating.objects.filter(gpt=gpt).aggregate(rating=Avg("stars"), count=Count("id"))
    chatted = has_chatted(user=user, gpt=gpt)
    mine = (
        GptRating.objects.filter(gpt=gpt, user=user).first()
        if getattr(user, "is_authenticated", False)
        else None
    )
    return {
        "gpt": gpt,
        "revision": gpt.published,
        "rating": stats["rating"],
        "ratings_count": stats["count"],
        "conversations_count": Conversation.objects.filter(gpt=gpt).count(),
        "reviews": list(
            GptRating.objects.filter(gpt=gpt).exclude(text="").select_related("user")[:20]
        ),
        "may_rate": policies.may_rate(user, gpt, has_chatted=chatted),
        "my_rating": mine,
        "is_builder": policies.is_builder(user, gpt),
    }


def conversations_for(*, user, gpt: Gpt) -> list[Conversation]:
    return list(Conversation.objects.filter(user=user, gpt=gpt)[:50])


def conversation_of(*, user, conversation_id: int) -> Conversation | None:
    return (
        Conversation.objects.select_related("gpt__profile", "gpt__published")
        .filter(pk=conversation_id, user=user)
        .first()
    )


def gpts_of_builder(*, user) -> list[Gpt]:
    return list(
        Gpt.objects.filter(builder=user)
        .select_related("profile", "published", "submitted", "category")
        .order_by("-updated_at")
    )


def builder_stats(*, user, days: int = 30) -> dict:
    """Per GPT of ``user``: conversations, users, tokens, earnings (µ¢, net), ratings; and
    per day over ``days`` days, for the charts."""

    since = timezone.now() - timedelta(days=days)
    gpts = list(Gpt.objects.filter(builder=user).select_related("profile").order_by("name"))
    ids = [gpt.pk for gpt in gpts]
    usage = {
        row["gpt_id"]: row
        for row in UsageRecord.objects.filter(gpt_id__in=ids)
        .values("gpt_id")
        .annotate(
            requests=Count("id"),
            users=Count("user_id", distinct=True),
            tokens=Sum("prompt_tokens") + Sum("completion_tokens"),
            spent=Sum("cost"),
        )
    }
    earned = dict(
        BuilderEarningsEntry.objects.filter(gpt_id__in=ids)
        .values("gpt_id")
        .annotate(net=Sum("net"))
        .values_list("gpt_id", "net")
    )
    conversations = dict(
        Conversation.objects.filter(gpt_id__in=ids)
        .values("gpt_id")
        .annotate(n=Count("id"))
        .values_list("gpt_id", "n")
    )
    ratings = {
        row["gpt_id"]: row
        for row in GptRating.objects.filter(gpt_id__in=ids)
        .values("gpt_id")
        .annotate(avg=Avg("stars"), n=Count("id"))
    }
    rows = []
    for gpt in gpts:
        used = usage.get(gpt.pk, {})
        rows.append(
            {
                "gpt": gpt,
                "conversations": conversations.get(gpt.pk, 0),
                "users": used.get("users", 0),
                "requests": used.get("requests", 0),
                "tokens": used.get("tokens") or 0,
                "earned": earned.get(gpt.pk, 0),
                "rating": ratings.get(gpt.pk, {}).get("avg"),
                "ratings_count": ratings.get(gpt.pk, {}).get("n", 0),
            }
        )
    daily = (
        UsageRecord.objects.filter(gpt_id__in=ids, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            requests=Count("id"),
            tokens=Sum("prompt_tokens") + Sum("completion_tokens"),
            spent=Sum("cost"),
        )
        .order_by("day")
    )
    return {
        "rows": rows,
        "daily": [
            {
                "day": row["day"].isoformat(),
                "requests": row["requests"],
                "tokens": row["tokens"] or 0,
                "spent": row["spent"] or 0,
            }
            for row in daily
        ],
        "earned_total": sum(row["earned"] for row in rows),
    }


def builder_conversations(*, gpt: Gpt) -> list[dict]:
    """What the builder sees of their GPT's conversations: when and how long; never who or
    what was said (customers' chats are theirs)."""
    rows = (
        Conversation.objects.filter(gpt=gpt)
        .annotate(messages_count=Count("messages"))
        .order_by("-updated_at")[:50]
    )
    return [
        {"started": c.created_at, "updated": c.updated_at, "messages": c.messages_count}
        for c in rows
    ]


def curation_queue() -> dict:
    return {
        "pending": list(
            Gpt.objects.filter(review=Gpt.Review.PENDING)
            .select_related("profile", "submitted__base_listing", "submitted__category")
            .order_by("updated_at")
        ),
        "reports": list(
            GptReport.objects.filter(closed_at__isnull=True).select_related("gpt__profile", "user")
        ),
        "listed": list(_listed().order_by("-featured", "published__name")[:100]),
    }


def _base_models():

    return (
        Listing.objects.filter(
            live_version_q("versions__"),
            status=Listing.Status.APPROVED,
            token_prices__isnull=False,
        )
        .select_related("publisher")
        .distinct()
        .order_by("name", "pk")
    )


def base_models() -> list:
    """The models a GPT can be built on: approved, with a live version, sold per token."""
    return list(_base_models())


def base_model(listing_id: int):
    return _base_models().filter(pk=listing_id).first()


def gpt_models_for(*, user) -> list[Gpt]:
    """The GPTs ``user`` may call that /v1/models lists: the listed ones, their own
    published ones, and link-shared ones they have chatted with."""
    chatted = Conversation.objects.filter(gpt=OuterRef("pk"), user=user)
    return list(
        Gpt.objects.filter(published__isnull=False)
        .filter(
            Q(**policies.listed_filter())
            | Q(builder=user)
            | Q(Exists(chatted), visibility=Gpt.Visibility.LINK)
        )
        .select_related("profile", "published__base_listing__publisher")
        .order_by("profile__handle", "slug")
    )


def _gpt_card(gpt: Gpt, version, price) -> dict:

    revision = gpt.published
    return {
        "id": gpt.model_id,
        "object": "model",
        "created": int(revision.created_at.timestamp()),
        "owned_by": gpt.profile.handle,
        "name": revision.name,
        "description": revision.description,
        "context_length": version.context_length if version else None,
        "base_model": revision.base_listing.model_id,
        "pricing": {
            "prompt": exact_major_units(price.input_per_mtok),
            "completion": exact_major_units(price.output_per_mtok),
        },
    }


def gpt_model_cards(*, user, model_id: str | None = None) -> list[dict]:
    """/v1/models entries of the GPTs ``user`` may call (one of them: ``model_id``), in
    OpenAI's shape plus the base model, context length and prices (base + markup)."""

    if model_id is not None:
        try:
            gpts = [gpt_for_use(user=user, model_id=model_id)]
        except ApplicationError:
            return []
    else:
        gpts = gpt_models_for(user=user)
    base_ids = {gpt.published.base_listing_id for gpt in gpts}
    prices = token_prices_for(listing_ids=base_ids)
    versions = latest_live_versions(base_ids)
    cards = []
    for gpt in gpts:
        base = prices.get(gpt.published.base_listing_id)
        if base is None or gpt.published.base_listing_id not in versions:
            continue  # its base model cannot answer now
        markup = gpt.published.markup_per_mtok
        price = type(base)(
            input_per_mtok=base.input_per_mtok + markup,
            output_per_mtok=base.output_per_mtok + markup,
        )
        cards.append(_gpt_card(gpt, versions[gpt.published.base_listing_id], price))
    return cards
