"""schemathesis against Casebound's own OpenAPI schema: no server error, no undocumented status
code, and no answer that breaks the schema, for generated requests to every operation."""

from __future__ import annotations

import warnings

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis.errors import NonInteractiveExampleWarning
from rest_framework.authtoken.models import Token
from schemathesis import checks

from tests.fixtures import api_client

EXAMPLES_PER_OPERATION = 8
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.response_schema_conformance, checks.content_type_conformance]


@pytest.mark.django_db(transaction=True)
def test_the_api_never_breaks_its_contract(cast, galleries) -> None:
    document = api_client(cast.admin).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    schema = schemathesis.openapi.from_dict(document)
    app = get_wsgi_application()
    token, _ = Token.objects.get_or_create(user=cast.admin)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        strategy = operation.as_strategy()
        for _ in range(EXAMPLES_PER_OPERATION):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                case = strategy.example()
            headers = {"Authorization": f"Token {token.key}"}
            response = case.call(app=app, headers=headers)
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except BaseExceptionGroup as exc:  # collect every failure, then report them together
                detail = " ".join(str(exc).split())[:400]
                failures.append(f"{operation.label}: {detail}")
    assert operations >= 20
    assert not failures, "\n".join(sorted(set(failures)))
