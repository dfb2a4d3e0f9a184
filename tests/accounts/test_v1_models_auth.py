import pytest

pytestmark = pytest.mark.django_db


def test_it_lists_models_in_openai_shape_with_a_valid_key(client, user, api_key_for):
    _, secret = api_key_for(user)
    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": []}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer gpts_nope_nope", "Basic abc", "Bearer not-a-store-key"],
)
def test_it_refuses_missing_or_wrong_keys_with_401_in_openai_shape(client, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/v1/models", **kwargs)
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_it_refuses_a_revoked_key(client, user, api_key_for):
    from accounts.services import api_key_revoke

    key, secret = api_key_for(user)
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    api_key_revoke(api_key=key)
    response = client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_key_with_the_right_prefix_but_wrong_secret_is_refused(client, user, api_key_for):
    key, secret = api_key_for(user)
    forged = f"gpts_{key.prefix}_{'x' * 43}"
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
