"""/v1 bodies are bounded before they are read into a file: 413 in OpenAI's shape, from the
declared length or while a chunked body arrives; bodies under the limit pass unchanged."""

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TOO_MUCH = b'{"model": "x", "messages": [], "pad": "' + b"a" * (2 * 1024 * 1024) + b'"}'


def test_a_declared_body_over_the_limit_is_413_at_once(asgi_server):
    response = httpx.post(
        f"{asgi_server}/v1/chat/completions",
        content=TOO_MUCH,
        headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert "larger than 1,048,576 bytes" in response.json()["error"]["message"]


def test_a_chunked_body_over_the_limit_is_413_while_it_arrives(asgi_server):
    def chunks():
        for start in range(0, len(TOO_MUCH), 65536):
            yield TOO_MUCH[start : start + 65536]

    response = httpx.post(
        f"{asgi_server}/v1/completions",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_a_body_under_the_limit_reaches_the_api_whole(asgi_server, user, api_key_for):
    _, secret = api_key_for(user)
    body = b'{"model": "nobody/nothing", "messages": [{"role": "user", "content": "hi"}]}'

    def chunks():
        yield body[:20]
        yield body[20:]

    response = httpx.post(
        f"{asgi_server}/v1/chat/completions",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {secret}"},
        timeout=30,
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
