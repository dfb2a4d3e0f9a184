import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_served(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "GPT Store API"
    assert schema["openapi"].startswith("3.")


def test_the_api_docs_page_renders(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html and "https://" not in html.split("<body", 1)[0]


def test_every_page_shares_the_layout_and_loads_nothing_from_the_internet(client):
    html = client.get("/").content.decode()
    assert 'class="site-header"' in html
    assert 'role="search"' in html
    assert "/static/css/store.css" in html
    for marker in ('src="http', 'href="http'):
        assert marker not in html
