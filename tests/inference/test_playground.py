"""The playground page and its session-authenticated SSE endpoint (without a worker)."""

import json

import pytest
from django.test import Client

from tests.support.servable import grant_purchase, grant_rental, servable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_worker_serves_these_models(settings):
    # A worker another test started may still be up: route to a queue nobody consumes, so
    # every admitted request here ends at the worker check (503) and never waits for one.
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"


@pytest.fixture
def listing(tiny_model_dirs):
    return servable_listing(
        tiny_model_dirs[True],
        name="Story teller",
        conversation_starters=["Tell me a story.", "Say hi"],
    )


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/playground/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_customer_without_models_is_pointed_to_the_catalog(client, user, listing):
    client.force_login(user)
    response = client.get("/playground/")
    assert response.status_code == 200
    assert b'data-testid="no-models"' in response.content
    assert listing.model_id.encode() not in response.content


def test_the_page_offers_the_customers_models_with_their_starters(
    client, user, listing, tiny_model_dirs
):
    grant_rental(user, listing)
    foreign = servable_listing(tiny_model_dirs[True], name="Not yours")
    client.force_login(user)
    response = client.get(f"/playground/?model={listing.model_id}")
    page = response.content.decode()
    assert listing.model_id in page
    assert "Tell me a story." in page
    assert foreign.model_id not in page
    assert "js/playground.js" in page


def test_the_chat_endpoint_needs_a_csrf_token(user, listing):
    grant_purchase(user, listing)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = {"model": listing.model_id, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/playground/chat", json.dumps(body), content_type="application/json")
    assert response.status_code == 403


def test_the_chat_endpoint_refuses_anonymous_visitors(client, listing):
    body = {"model": listing.model_id, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/playground/chat", json.dumps(body), content_type="application/json")
    assert response.status_code == 401


def test_the_chat_endpoint_refuses_a_model_the_customer_may_not_use(client, other_user, listing):
    client.force_login(other_user)
    body = {"model": listing.model_id, "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/playground/chat", json.dumps(body), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


def test_the_chat_endpoint_says_when_no_worker_is_up(client, user, listing):
    grant_purchase(user, listing)
    client.force_login(user)
    body = {
        "model": listing.model_id,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 5,
    }
    response = client.post("/playground/chat", json.dumps(body), content_type="application/json")
    assert response.status_code == 503
    assert "worker" in response.json()["error"]["message"]
