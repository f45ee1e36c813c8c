import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any unresolvable serializer or enum collision into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yml")
    assert "/api/v1/customers/{source_id}" in (tmp_path / "s.yml").read_text()


def test_schema_is_public_and_declares_the_api_key_scheme(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    assert {
        "/api/v1/customers/{source_id}",
        "/api/v1/orders/{source_id}",
        "/api/v1/carts/{source_id}",
        "/api/v1/events",
        "/api/v1/customers/{source_id}/export",
    } <= set(schema["paths"])


def test_interactive_docs_load_their_assets_from_this_server(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


def test_favicon_is_served_for_pages_that_do_not_link_it(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0].endswith("img/favicon.svg")
