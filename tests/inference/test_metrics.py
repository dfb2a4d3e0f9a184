"""/metrics: only for the metrics token; requests and errors by route and status, queue depth,
live pools and holds outstanding, read by a Prometheus scraper as text."""

import pytest

from billing.services import quota_hold
from inference.models import WorkerPool
from tests.inference.prometheus_text import samples, value
from tests.support.servable import grant_rental, servable_listing

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"


def scrape(client) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def test_metrics_do_not_exist_without_a_token_setting(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_count_requests_and_errors_by_route_status_and_code(client, settings):
    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)
    assert client.get("/healthz").status_code in (200, 503)
    assert (
        client.post("/v1/chat/completions", "{}", content_type="application/json").status_code
        == 401
    )
    after = scrape(client)

    errors = dict(route="/v1/chat/completions", status="401", code="missing_api_key")
    assert (value(after, "gptstore_http_errors_total", **errors) or 0) - (
        value(before, "gptstore_http_errors_total", **errors) or 0
    ) == 1
    posted = dict(route="/v1/chat/completions", method="POST", status="401")
    assert value(after, "gptstore_http_requests_total", **posted) >= 1
    assert any(
        name == "gptstore_http_requests_total" and dict(labels)["route"] == "/healthz"
        for name, labels in after
    )


def test_metrics_show_queue_depth_live_pools_and_holds_outstanding(
    client, settings, user, tiny_model_dirs
):
    settings.METRICS_TOKEN = TOKEN
    listing = servable_listing(tiny_model_dirs[True])
    grant_rental(user, listing, tokens=1000)
    quota_hold(user=user, listing=listing, tokens=300, request_id="held-in-test")
    pool = WorkerPool.objects.create(name="gpu-a", queue="gpu.a.metrics")
    pool.listings.add(listing)

    found = scrape(client)
    assert value(found, "gptstore_holds_outstanding", balance="quota") == 1
    assert value(found, "gptstore_holds_outstanding", balance="credits") == 0
    assert value(found, "gptstore_held_credit_microcents_outstanding") == 0
    assert value(found, "gptstore_held_tokens_outstanding") == 300
    assert value(found, "gptstore_queue_depth", queue="gpu.a.metrics") == 0
    assert value(found, "gptstore_queue_depth", queue="inference.cpu") is not None
    assert (
        value(
            found,
            "gptstore_pool_live_workers",
            pool="gpu-a",
            queue="gpu.a.metrics",
            backend="engine",
        )
        == 0
    )
