"""Full-text search over listings.

PostgreSQL: the stored ``Listing.search_vector`` (name A, summary and tags B, card C, kept by a
trigger, GIN-indexed) matched with a web-search style query and ranked by ``SearchRank``, so a
word in a name outranks the same word in a card. SQLite (the embedded demo): every word must
appear in the name, summary, tags or card (icontains), ranked by where it was found.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Case, F, FloatField, IntegerField, Q, QuerySet, Value, When

SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200


def normalize_query(q: str | None) -> str:
    return " ".join((q or "").split())[:MAX_QUERY_LENGTH]


def search_listings(queryset: QuerySet, q: str) -> QuerySet:
    """Keeps the listings matching ``q`` and annotates each with ``rank`` (higher is better)."""
    q = normalize_query(q)
    if not q:
        return queryset.annotate(rank=Value(0.0, output_field=FloatField()))
    if settings.USING_POSTGRES:
        query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
        return queryset.filter(search_vector=query).annotate(
            rank=SearchRank(F("search_vector"), query)
        )
    return _search_plain(queryset, q)


def _search_plain(queryset: QuerySet, q: str) -> QuerySet:
    words = [word.strip('"') for word in q.split() if word.strip('"-')]
    condition = Q()
    for word in words:
        condition &= (
            Q(name__icontains=word)
            | Q(summary__icontains=word)
            | Q(tags__icontains=word)
            | Q(card_markdown__icontains=word)
        )
    first = words[0] if words else q
    rank = Case(
        When(name__icontains=first, then=Value(3)),
        When(Q(summary__icontains=first) | Q(tags__icontains=first), then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return queryset.filter(condition).annotate(rank=rank)
