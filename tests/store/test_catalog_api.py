"""The JSON catalog API: list/search/filter and detail, with the pages' visibility rules."""

import pytest

from store.models import Listing
from tests.support.factories import ListingFactory, published_listing

pytestmark = pytest.mark.django_db

LIST = "/api/catalog/listings/"


def detail_url(listing):
    return f"/api/catalog/listings/{listing.publisher.slug}/{listing.slug}/"


def test_it_lists_searches_and_filters_public_listings(client):
    published_listing(name="Haiku Writer", task="chat", license="mit", card_markdown="Poems.")
    published_listing(
        name="Coder", task="code", license="mit", card_markdown="Writes haiku in comments."
    )
    hidden = published_listing(name="Hidden haiku")
    Listing.objects.filter(pk=hidden.pk).update(status="pending")

    everything = client.get(LIST).json()
    assert everything["count"] == 2
    first = everything["results"][0]
    assert {
        "model_id",
        "name",
        "publisher",
        "task",
        "license",
        "latest_format",
        "parameter_count",
        "min_price",
    } <= set(first)

    found = client.get(LIST, {"q": "haiku"}).json()
    assert [row["name"] for row in found["results"]] == ["Haiku Writer", "Coder"]
    assert client.get(LIST, {"q": "haiku", "task": "code"}).json()["results"][0]["name"] == "Coder"
    assert client.get(LIST, {"license": "apache-2.0"}).json()["count"] == 0


def test_it_paginates_with_a_page_size(client, django_assert_max_num_queries):
    for n in range(7):
        published_listing(name=f"Model {n}")
    with django_assert_max_num_queries(4):
        page = client.get(LIST, {"page_size": 5, "sort": "newest"}).json()
    assert page["count"] == 7 and len(page["results"]) == 5 and page["next"]
    assert len(client.get(LIST, {"page_size": 5, "page": 2}).json()["results"]) == 2


def test_the_format_filter_is_a_filter_not_a_renderer_choice(client):
    published_listing(name="Gguf model", version__source_format="gguf")
    published_listing(name="Safetensors model", version__source_format="safetensors")

    response = client.get(LIST, {"format": "gguf"})

    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["Gguf model"]
    assert client.get(LIST, {"format": "safetensors"}).json()["count"] == 1


@pytest.mark.parametrize(
    "path", ["listings/no%20slug/x/", "listings/a/b%0Ac/", "listings/a/b/c/", "nothing", ""]
)
def test_an_unknown_catalog_url_gets_the_api_error_shape_not_a_web_page(client, path):
    response = client.post(f"/api/catalog/{path}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_bad_filters_get_the_store_error_shape(client):
    response = client.get(LIST, {"task": "juggling", "sort": "random"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"task", "sort"}


def test_the_detail_shows_card_versions_and_files(client):
    listing = published_listing(card_markdown="# Card\n\n<script>x()</script>")
    body = client.get(detail_url(listing)).json()
    assert body["model_id"] == listing.model_id
    assert "<h1>Card</h1>" in body["card_html"] and "<script" not in body["card_html"]
    version = body["versions"][0]
    assert version["architecture"] == "LlamaForCausalLM"
    assert {file["path"] for file in version["files"]} == {
        "config.json",
        "tokenizer.json",
        "model.safetensors",
    }
    assert all(len(file["sha256"]) == 64 for file in version["files"])


@pytest.mark.parametrize("status", ["draft", "pending", "rejected", "delisted"])
def test_hidden_listings_are_404_for_anonymous_and_other_users(client, other_user, status):
    listing = published_listing()
    Listing.objects.filter(pk=listing.pk).update(status=status)
    response = client.get(detail_url(listing))
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No such model."
    client.force_login(other_user)
    assert client.get(detail_url(listing)).status_code == 404


@pytest.mark.parametrize("status", ["draft", "pending", "rejected", "delisted"])
def test_hidden_listings_are_visible_to_their_publisher_and_staff(
    client, publisher, staff_user, status
):
    listing = published_listing(publisher=publisher)
    Listing.objects.filter(pk=listing.pk).update(status=status)
    for viewer in (publisher.user, staff_user):
        client.force_login(viewer)
        response = client.get(detail_url(listing))
        assert response.status_code == 200
        assert response.json()["status"] == status
    # Lists stay public-only, even for the owner.
    assert client.get(LIST).json()["count"] == 0


def test_the_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/catalog/listings/" in schema
    assert "/api/catalog/listings/{publisher_slug}/{listing_slug}/" in schema
    assert "catalog_listings_list" in schema


def test_a_listing_without_a_processed_version_has_no_format_or_size(client):
    ListingFactory(name="Bare")
    row = client.get(LIST).json()["results"][0]
    assert (row["name"], row["latest_format"], row["parameter_count"]) == ("Bare", None, None)
