"""GET /v1/models and /v1/models/{id}: the models a key's owner may use, with prices."""

import pytest

from tests.support.factories import purchase_price, rental_price
from tests.support.servable import (
    SERVABLE_CONTEXT,
    grant_purchase,
    grant_rental,
    servable_listing,
)

pytestmark = pytest.mark.django_db


def get(client, path, secret):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_owned_and_rented_models_are_listed_with_context_and_prices(
    client, user, api_key_for, tiny_model_dirs
):
    owned = servable_listing(tiny_model_dirs[True])
    rented = servable_listing(tiny_model_dirs[True])
    servable_listing(tiny_model_dirs[True])  # nobody's
    purchase_price(owned, amount=1500)
    rental_price(owned, amount=500, tokens=100_000, days=30)
    grant_purchase(user, owned)
    grant_rental(user, rented)
    _, secret = api_key_for(user)

    data = get(client, "/v1/models", secret).json()["data"]
    assert sorted(card["id"] for card in data) == sorted([owned.model_id, rented.model_id])
    card = get(client, f"/v1/models/{owned.model_id}", secret).json()
    assert card["object"] == "model"
    assert card["owned_by"] == owned.publisher.slug
    assert card["context_length"] == SERVABLE_CONTEXT
    assert card["pricing"]["purchase"]["amount"] == 1500
    assert card["pricing"]["rental_packs"] == [
        {"tokens": 100_000, "days": 30, "amount": 500, "currency": "usd"}
    ]


def test_another_customers_key_does_not_see_the_model(
    client, user, other_user, api_key_for, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True])
    grant_purchase(user, listing)
    _, secret = api_key_for(other_user)
    assert get(client, "/v1/models", secret).json()["data"] == []
    response = get(client, f"/v1/models/{listing.model_id}", secret)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_a_delisted_model_leaves_the_list(client, user, api_key_for, tiny_model_dirs):
    listing = servable_listing(tiny_model_dirs[True])
    grant_purchase(user, listing)
    _, secret = api_key_for(user)
    listing.status = listing.Status.DELISTED
    listing.save(update_fields=["status"])
    assert get(client, "/v1/models", secret).json()["data"] == []


def test_anonymous_callers_get_401(client):
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models/a/b").status_code == 401


def test_a_model_answers_get_only_and_405_says_so(client, user, api_key_for, tiny_model_dirs):
    """OpenAI's DELETE /v1/models/{id} deletes a fine-tuned model: answering it with the card
    would tell the client it was deleted."""
    listing = servable_listing(tiny_model_dirs[True])
    grant_purchase(user, listing)
    _, secret = api_key_for(user)

    for method in ("DELETE", "POST"):
        response = client.generic(
            method, f"/v1/models/{listing.model_id}", HTTP_AUTHORIZATION=f"Bearer {secret}"
        )
        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert get(client, f"/v1/models/{listing.model_id}", secret).status_code == 200
