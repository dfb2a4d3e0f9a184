"""The publisher's monitoring page of one model: requests, errors by code, time to first token
p50/p95 and tokens per second over the period, chart data, and whether a live pool serves it;
nobody else's models."""

import json
import re

import pytest

from inference.models import GenerationTiming, WorkerPool
from tests.support.factories import PublisherFactory
from tests.support.servable import servable_listing

pytestmark = pytest.mark.django_db


@pytest.fixture
def listing(tiny_model_dirs, publisher):
    return servable_listing(tiny_model_dirs[True], publisher=publisher)


def answer(listing, number: int, *, first_token_ms=100, duration_ms=1100, tokens=50, **fields):
    return GenerationTiming.objects.create(
        request_id=f"req-{listing.pk}-{number}",
        listing=listing,
        outcome=fields.pop("outcome", "ok"),
        first_token_ms=first_token_ms,
        duration_ms=duration_ms,
        completion_tokens=tokens,
        **fields,
    )


def page_of(client, listing, **query):
    response = client.get(f"/publish/{listing.pk}/monitoring/", query)
    assert response.status_code == 200
    return response.content.decode()


def by_testid(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def test_a_publisher_sees_latency_errors_and_throughput_of_their_model(
    client, publisher, password, listing, settings
):
    settings.INFERENCE_DEFAULT_QUEUE = "inference.unserved-in-tests"
    for number, ttft in enumerate([100, 200, 300, 400]):
        # 50 tokens in the second after the first token: 50 tokens/s.
        answer(listing, number, first_token_ms=ttft, duration_ms=ttft + 1000)
    answer(
        listing, 9, outcome="error", error_code="model_unavailable", first_token_ms=None, tokens=0
    )
    pool = WorkerPool.objects.create(name="gpu-a", queue="gpu.a.monitoring", device_kind="cuda")
    pool.listings.add(listing)
    client.force_login(publisher.user)

    html = page_of(client, listing)
    assert by_testid(html, "requests") == "5"
    assert by_testid(html, "errors") == "1"
    assert "model_unavailable: 1" in html
    assert by_testid(html, "ttft") == "250 ms"
    assert by_testid(html, "ttft-p95") == "p50 · p95 385 ms"
    assert by_testid(html, "tokens-per-second") == "50.0"
    assert 'data-testid="not-served"' in html and "model_not_loaded" in html
    assert "gpu-a" in html
    buckets = json.loads(re.search(r'id="monitoring-data"[^>]*>(.*?)</script>', html).group(1))
    assert sum(b["requests"] for b in buckets) == 5
    assert sum(b["errors"] for b in buckets) == 1
    assert "js/monitoring.js" in html
    studio = client.get(f"/publish/{listing.pk}/").content.decode()
    assert f'href="/publish/{listing.pk}/monitoring/"' in studio


def test_another_publisher_cannot_open_the_page(client, password, listing):
    other = PublisherFactory(user__password=password)
    client.force_login(other.user)
    assert client.get(f"/publish/{listing.pk}/monitoring/").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, listing):
    response = client.get(f"/publish/{listing.pk}/monitoring/")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_quiet_period_says_so(client, publisher, password, listing):
    client.force_login(publisher.user)
    html = page_of(client, listing, hours=168)
    assert 'data-testid="no-traffic"' in html
    assert by_testid(html, "requests") == "0"
