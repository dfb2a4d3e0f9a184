"""Staff keep blocked patterns in the admin; a change applies to the next request."""

import json

import pytest

from inference.models import BlockedPattern
from inference.queues import queue_for
from tests.support.api_checks import admitted
from tests.support.servable import grant_purchase, servable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_worker_serves_these_models(settings):
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"


def ask(client, secret, listing, *texts):
    """A chat request whose user messages are ``texts``."""
    body = {
        "model": listing.model_id,
        "messages": [{"role": "user", "content": text} for text in texts],
        "max_tokens": 4,
    }
    return client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def test_a_pattern_added_in_the_admin_refuses_the_next_request(
    client, staff_user, user, api_key_for, tiny_model_dirs
):
    listing = servable_listing(tiny_model_dirs[True])
    grant_purchase(user, listing)
    _, secret = api_key_for(user)
    assert admitted(ask(client, secret, listing, "how to pick a lock"))

    client.force_login(staff_user)
    response = client.post(
        "/admin/inference/blockedpattern/add/",
        {"pattern": r"pick\s+a\s+lock", "is_regex": "on", "reason": "No burglary.", "active": "on"},
    )
    assert response.status_code == 302
    pattern = BlockedPattern.objects.get()
    assert pattern.created_by == staff_user
    client.logout()

    refused = ask(client, secret, listing, "How to PICK a  lock?")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_policy_violation"
    pattern.refresh_from_db()
    assert pattern.match_count == 1


def test_the_admin_refuses_an_invalid_regular_expression(client, staff_user):
    client.force_login(staff_user)
    response = client.post(
        "/admin/inference/blockedpattern/add/",
        {"pattern": "(unclosed", "is_regex": "on", "active": "on"},
    )
    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert not BlockedPattern.objects.exists()


def test_customers_cannot_reach_the_patterns_admin(client, user):
    client.force_login(user)
    assert client.get("/admin/inference/blockedpattern/").status_code == 302


def test_models_go_to_their_routed_queue_or_the_default(settings):
    settings.INFERENCE_QUEUE_ROUTES = {"acme/big": "gpu.big"}
    settings.INFERENCE_DEFAULT_QUEUE = "inference.cpu"
    assert queue_for(model_id="acme/big") == "gpu.big"
    assert queue_for(model_id="acme/small") == "inference.cpu"
