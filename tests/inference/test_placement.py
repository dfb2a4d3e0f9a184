"""Placement without workers: a model placed on pools is refused with 503 model_not_loaded when
none of them is live, holding nothing; staff manage pools in the admin."""

import json

import pytest

from inference.models import UsageRecord, WorkerPool
from inference.pools.placement import placement_queue
from tests.support.servable import available_tokens, grant_rental, servable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(tiny_model_dirs):
    return servable_listing(tiny_model_dirs[True])


def test_a_model_whose_pools_have_no_live_worker_is_refused_at_once_holding_nothing(
    client, user, listing, api_key_for
):
    pool = WorkerPool.objects.create(name="gpu-a", queue="gpu.a.nobody", device_kind="cuda")
    pool.listings.add(listing)
    grant_rental(user, listing, tokens=1000)
    _, secret = api_key_for(user)
    response = client.post(
        "/v1/chat/completions",
        json.dumps({"model": listing.model_id, "messages": [{"role": "user", "content": "Hi"}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 503
    error = response.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "model_not_loaded",
        "server_error",
        "model",
    )
    assert response["Retry-After"]
    assert available_tokens(user, listing) == 1000
    assert not UsageRecord.objects.exists()


def test_a_disabled_pool_no_longer_places_the_model(listing, settings):
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"
    pool = WorkerPool.objects.create(name="old", queue="old.q", enabled=False)
    pool.listings.add(listing)
    with pytest.raises(Exception) as refused:
        placement_queue(listing=listing)
    assert refused.value.code == "no_worker_available"  # back on the default queue


def test_staff_define_a_pool_and_its_models_in_the_admin(client, staff_user, listing):
    client.force_login(staff_user)
    response = client.post(
        "/admin/inference/workerpool/add/",
        {
            "name": "gpu-big",
            "queue": "gpu.big",
            "device_kind": "cuda",
            "memory_budget_mb": "40960",
            "enabled": "on",
            "listings": [listing.pk],
            "backend": "engine",
            "upstream_timeout_seconds": "60",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    pool = WorkerPool.objects.get(name="gpu-big")
    assert list(pool.listings.all()) == [listing]
    page = client.get("/admin/inference/workerpool/").content.decode()
    assert "gpu.big" in page and listing.model_id in page


def test_an_upstream_pool_needs_a_url_and_an_environment_variable_name(client, staff_user, listing):
    client.force_login(staff_user)
    response = client.post(
        "/admin/inference/workerpool/add/",
        {
            "name": "vllm",
            "queue": "gpu.vllm",
            "device_kind": "cuda",
            "memory_budget_mb": "1",
            "backend": "upstream",
            "upstream_api_key_env": "sk-not-a-name",
            "upstream_timeout_seconds": "60",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "An upstream pool needs the upstream&#x27;s base URL." in page
    assert "An environment variable name" in page
    assert not WorkerPool.objects.exists()
