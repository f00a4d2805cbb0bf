"""The OpenAPI schema describes the whole API."""

from __future__ import annotations

from rest_framework.test import APIClient

from agencies.accounts.mfa import current_code
from tests.factories import TOTP_SECRET
from tests.fixtures import api_client


def test_the_schema_lists_every_contract_endpoint(cast) -> None:
    response = api_client(cast.officer).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/cases/", "/api/v1/cases/{id}/", "/api/v1/galleries/",
                 "/api/v1/galleries/{id}/faces/", "/api/v1/searches/", "/api/v1/searches/{id}/",
                 "/api/v1/auth/token/"):
        assert path in schema["paths"], path


def test_a_token_is_issued_for_a_username_password_and_code(cast) -> None:
    response = APIClient().post("/api/v1/auth/token/", {
        "username": "alice", "password": "correct-horse-battery-staple",
        "otp": current_code(TOTP_SECRET)})
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/cases/").status_code == 200


def test_a_wrong_password_gets_no_token(cast) -> None:
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "nope",
                                                        "otp": current_code(TOTP_SECRET)})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_every_operation_documents_the_error_answers(cast) -> None:
    schema = api_client(cast.officer).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "detail"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (method, path)


def test_an_address_no_route_matches_answers_like_the_api(db) -> None:
    response = APIClient().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}
    page = APIClient().get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
