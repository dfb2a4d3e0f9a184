import pytest


@pytest.mark.django_db
def test_healthz_names_the_worker_as_down_when_none_runs(client, redis_client):
    # No worker runs yet in this session (worker journeys run last); forget stale heartbeats.
    for key in redis_client.scan_iter(match="gptstore:worker-heartbeat:*"):
        redis_client.delete(key)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "worker": "down"}
    assert body["down"] == ["worker"]


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_healthz_is_ok_when_database_redis_and_a_worker_are_up(client, celery_worker):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_healthz_reports_redis_down_with_503(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "redis" in response.json()["down"]


@pytest.mark.django_db
def test_anonymous_healthz_shows_up_or_down_but_no_error_text(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    body = client.get("/healthz").json()

    assert body["checks"]["redis"] == "down"
    assert "errors" not in body
    assert "127.0.0.1" not in str(body) and "Error" not in str(body)


@pytest.mark.django_db
def test_staff_see_why_a_part_is_down(client, settings, staff_user):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    client.force_login(staff_user)

    body = client.get("/healthz").json()

    assert "ConnectionError" in body["errors"]["redis"]
