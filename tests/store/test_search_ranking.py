"""Full-text search: PostgreSQL's weighted search vector and its ranking."""

import pytest

from store.models import Listing
from store.selectors import catalog_listings
from store.services import listing_update
from tests.support.factories import ListingFactory

pytestmark = pytest.mark.django_db


def names(queryset):
    return [listing.name for listing in queryset]


def test_a_name_match_outranks_a_summary_match_which_outranks_a_card_match():
    ListingFactory(
        name="Generic helper", summary="Nothing special.", card_markdown="Good at haiku and poems."
    )
    ListingFactory(name="Haiku Writer", summary="Short poems.", card_markdown="Writes short poems.")
    ListingFactory(name="Poet", summary="Writes haiku on request.", card_markdown="Plain card.")

    assert names(catalog_listings(q="haiku")) == ["Haiku Writer", "Poet", "Generic helper"]


def test_tags_are_searchable_and_weigh_like_the_summary():
    ListingFactory(name="Alpha", tags=["kotlin"], card_markdown="x")
    ListingFactory(name="Beta", card_markdown="Knows some kotlin.")
    assert names(catalog_listings(q="kotlin")) == ["Alpha", "Beta"]


def test_words_are_stemmed_so_coding_finds_code():
    ListingFactory(name="Code Llama Tiny", summary="Completes code.")
    ListingFactory(name="Chatty", summary="Small talk.")
    assert names(catalog_listings(q="coding")) == ["Code Llama Tiny"]


def test_every_word_of_the_query_must_match():
    ListingFactory(name="Fast translator", summary="Translates French.")
    ListingFactory(name="Slow translator", summary="Translates German.")
    assert names(catalog_listings(q="translator french")) == ["Fast translator"]


def test_the_search_vector_follows_edits_of_the_card():
    listing = ListingFactory(name="Model", card_markdown="About zeppelins.")
    assert names(catalog_listings(q="zeppelins")) == ["Model"]

    listing_update(listing=listing, card_markdown="About submarines.", tags=["ocean"])

    assert names(catalog_listings(q="zeppelins")) == []
    assert names(catalog_listings(q="submarines")) == ["Model"]
    assert names(catalog_listings(q="ocean")) == ["Model"]


def test_listings_inserted_in_bulk_are_searchable_too():
    publisher = ListingFactory().publisher
    Listing.objects.bulk_create(
        [
            Listing(
                publisher=publisher,
                name="Bulk walrus",
                slug="bulk-walrus",
                status=Listing.Status.APPROVED,
            )
        ]
    )
    assert names(catalog_listings(q="walrus")) == ["Bulk walrus"]


@pytest.mark.parametrize("status", ["draft", "pending", "rejected", "delisted"])
def test_hidden_listings_are_never_found(status):
    ListingFactory(name="Secret narwhal", status=status)
    assert names(catalog_listings(q="narwhal")) == []


@pytest.mark.parametrize(
    "q", ['"unclosed', "a & b | !c", "-", "'; DROP TABLE store_listing; --", "ünïcödé 模型"]
)
def test_odd_queries_do_not_break_the_catalog(client, q):
    ListingFactory(name="Anything")
    assert client.get("/catalog/", {"q": q}).status_code == 200
    assert client.get("/api/catalog/listings/", {"q": q}).status_code == 200


def test_an_overlong_query_is_cut_on_the_page_and_refused_by_the_api(client):
    ListingFactory(name="Walrus")
    page = client.get("/catalog/", {"q": "walrus " + "x" * 500})
    assert page.status_code == 200
    api = client.get("/api/catalog/listings/", {"q": "x" * 500})
    assert api.status_code == 400
    assert "q" in api.json()["error"]["fields"]
