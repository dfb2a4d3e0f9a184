"""Full-text search over listings.

PostgreSQL: the stored ``Listing.search_vector`` (name A, summary and tags B, card C, kept by a
trigger, GIN-indexed) matched with a web-search style query. Ranking reads the small inline
``search_rank_vector`` (name A, summary and tags B only, same trigger): the full vector lives out
of line, and reading it for every match cost a TOAST fetch each (most of a broad search's time).
So a word in a name outranks one in a summary or tags, which outranks a card-only match (rank 0,
then newest first). The ranking query ORs the words, so a listing with one word in its name and
the other in its card still ranks above a card-only match.
"""

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, FloatField, QuerySet, Value

SEARCH_CONFIG = "english"
MAX_QUERY_LENGTH = 200


def normalize_query(q: str | None) -> str:
    return " ".join((q or "").split())[:MAX_QUERY_LENGTH]


def search_listings(queryset: QuerySet, q: str) -> QuerySet:
    """Keeps the listings matching ``q`` and annotates each with ``rank`` (higher is better)."""
    q = normalize_query(q)
    if not q:
        return queryset.annotate(rank=Value(0.0, output_field=FloatField()))
    query = SearchQuery(q, search_type="websearch", config=SEARCH_CONFIG)
    return queryset.filter(search_vector=query).annotate(
        rank=SearchRank(F("search_rank_vector"), _rank_query(q) or query)
    )


def _rank_query(q: str) -> SearchQuery | None:
    """Any of the query's wanted words (negated words and OR dropped): rank by whichever of them
    a listing's name, summary or tags hold, not only by listings holding all of them there."""
    words = [
        word.strip('"')
        for word in q.split()
        if word.strip('"') and not word.startswith("-") and word.lower() != "or"
    ]
    rank_query = None
    for word in words:
        term = SearchQuery(word, search_type="plain", config=SEARCH_CONFIG)
        rank_query = term if rank_query is None else rank_query | term
    return rank_query
