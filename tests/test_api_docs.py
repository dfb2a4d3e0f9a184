"""The OpenAPI schema at /api/schema/ and its docs page: the catalog API and the /v1 API.

The /v1 part is written by hand (inference/api/openapi/), so these tests hold it to the code:
every /v1 route is described and nothing else, the methods described are the ones that
answer, the completion bodies name exactly the fields the validator knows, and each bound
in the schema is the validator's (its value passes, one step past it is refused)."""

import re

import pytest
from django.urls import URLPattern, URLResolver
from playwright.sync_api import expect

from inference.api import urls as v1_urls
from inference.api.errors import OpenAIError
from inference.api.validation import ALIASES, KNOWN_FIELDS, completion_params
from inference.training.services import hyperparameters_resolve

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


def served_schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def v1_routes(patterns=v1_urls.urlpatterns, prefix="/v1/") -> set[str]:
    """The routes of inference/api/urls.py in OpenAPI's form (``<str:file_id>`` →
    ``{file_id}``), but the catch-all that answers unknown URLs."""
    routes = set()
    for pattern in patterns:
        route = str(pattern.pattern)
        if route.startswith("^"):  # a regular expression: the catch-all
            continue
        route = prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        if isinstance(pattern, URLResolver):
            routes |= v1_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            routes.add(route)
    return routes


def test_the_openapi_schema_is_served(client):
    schema = served_schema(client)
    assert schema["info"]["title"] == "GPT Store API"
    assert schema["openapi"].startswith("3.")


def test_the_schema_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(served_schema(client))


def test_every_v1_route_is_in_the_schema_and_nothing_else(client):
    schema = served_schema(client)
    described = {path for path in schema["paths"] if path.startswith("/v1/")}
    assert v1_routes() == described
    assert "/v1/chat/completions" in described and "/api/catalog/listings/" in schema["paths"]


def test_each_v1_route_answers_the_methods_the_schema_describes_and_405_to_others(
    client, user, api_key_for
):
    """Tried: every method on every /v1 route with a valid key (ids that exist nowhere).
    Must hold: a method is in the schema exactly when the route does not answer 405, and a
    405 names the schema's methods in its Allow header."""
    _, secret = api_key_for(user)
    schema = served_schema(client)
    for route in sorted(v1_routes()):
        path = re.sub(r"\{\w+\}", "nobody-has-this-id", route)
        described = {method.upper() for method in schema["paths"][route]}
        for method in METHODS:
            response = client.generic(method.upper(), path, HTTP_AUTHORIZATION=f"Bearer {secret}")
            answered = response.status_code != 405
            assert answered == (method.upper() in described), (method, route, response)
            assert response["Content-Type"].startswith("application/json"), (method, route)
            if not answered:
                assert set(response["Allow"].split(", ")) == described, (method, route)


def test_every_v1_operation_needs_the_api_key_and_documents_openai_errors(client):
    schema = served_schema(client)
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    error = schema["components"]["schemas"]["V1Error"]["properties"]["error"]
    assert set(error["required"]) == {"message", "type", "param", "code"}
    for path, item in schema["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            assert operation["security"] == [{"ApiKeyAuth": []}], (method, path)
            assert "401" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if status != "200":
                    body = response["content"]["application/json"]["schema"]
                    assert body == {"$ref": "#/components/schemas/V1Error"}, (status, path)


@pytest.mark.parametrize(
    ("name", "kind"), [("ChatCompletionRequest", "chat"), ("CompletionRequest", "text")]
)
def test_a_completion_body_names_exactly_the_fields_the_validator_knows(client, name, kind):
    body = served_schema(client)["components"]["schemas"][name]
    assert set(body["properties"]) == KNOWN_FIELDS[kind] | set(ALIASES)
    assert body["additionalProperties"] is False


def test_a_streamed_answer_is_described_as_server_sent_events(client):
    operation = served_schema(client)["paths"]["/v1/chat/completions"]["post"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}


def _past(value, bound: str):
    step = 1 if isinstance(value, int) else 0.5
    return value + step if bound == "maximum" else value - step


# Fields whose value is checked together with another one.
COMPANIONS = {"top_logprobs": lambda value: {"logprobs": True}, "best_of": lambda v: {"n": v}}


@pytest.mark.parametrize(
    ("name", "kind", "base"),
    [
        ("ChatCompletionRequest", "chat", {"messages": [{"role": "user", "content": "hi"}]}),
        ("CompletionRequest", "text", {"prompt": "hi"}),
    ],
)
def test_each_bound_in_a_completion_body_is_the_validators(client, name, kind, base):
    """Tried: each field with a minimum or maximum, at the bound and one step past it.
    Must hold: the bound passes validation; past it is a 400 naming that field."""
    properties = served_schema(client)["components"]["schemas"][name]["properties"]
    tried = 0
    for field, schema in properties.items():
        for bound in ("minimum", "maximum"):
            if bound not in schema:
                continue
            value = schema[bound]
            extra = COMPANIONS.get(field, lambda v: {})(value)
            completion_params({"model": "a/b", **base, **extra, field: value}, kind=kind)
            with pytest.raises(OpenAIError) as refused:
                completion_params(
                    {"model": "a/b", **base, **extra, field: _past(value, bound)}, kind=kind
                )
            assert refused.value.status == 400
            assert refused.value.param in (field, ALIASES.get(field)), (field, bound)
            tried += 1
    assert tried >= 15


def test_each_bound_of_a_fine_tuning_hyperparameter_is_the_services(client):
    from config.api_errors import ApplicationError

    body = served_schema(client)["components"]["schemas"]["FineTuningJobRequest"]
    for field, schema in body["properties"]["hyperparameters"]["properties"].items():
        assert schema["oneOf"][0]["enum"] == ["auto"]
        number = schema["oneOf"][1]
        for bound in ("minimum", "maximum"):
            hyperparameters_resolve({field: number[bound]}, examples=10)
            with pytest.raises(ApplicationError):
                hyperparameters_resolve({field: _past(number[bound], bound)}, examples=10)


def test_the_api_docs_page_renders(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html and "https://" not in html.split("<body", 1)[0]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_shows_the_v1_api_in_a_browser(live_server, browser):
    """Swagger UI runs under the store's Content Security Policy (no inline script) and
    lists the /v1 operations beside the catalog's."""
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/api/docs/")
    expect(page.get_by_text("/v1/chat/completions", exact=True)).to_be_visible()
    expect(page.get_by_text("/v1/fine_tuning/jobs/{job_id}/cancel", exact=True)).to_be_visible()
    expect(page.get_by_text("/api/catalog/listings/", exact=True)).to_be_visible()


def test_every_page_shares_the_layout_and_loads_nothing_from_the_internet(client):
    html = client.get("/").content.decode()
    assert 'class="site-header"' in html
    assert 'role="search"' in html
    assert "/static/css/store.css" in html
    for marker in ('src="http', 'href="http'):
        assert marker not in html
