"""Refusals and missing pages answer in the site's layout, say what happened and offer a way back;
form help text is tied to its field for screen readers."""

from __future__ import annotations

import re

from django.template.loader import render_to_string

from tests.factories import assigned_case
from tests.fixtures import web_client


def test_a_refused_page_says_why_and_what_to_do_in_the_sites_layout(cast) -> None:
    response = web_client(cast.officer).get("/people/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "You cannot open this page" in page and "Your role does not allow this page." in page
    assert 'aria-label="Main"' in page and 'href="/"' in page  # the navigation and a way home


def test_a_missing_page_answers_in_the_sites_layout(cast) -> None:
    response = web_client(cast.officer).get("/cases/999999/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in page and 'aria-label="Main"' in page


def test_the_server_error_page_needs_no_request() -> None:
    page = render_to_string("500.html")  # Django renders it with an empty context
    assert "Something went wrong on our side" in page and "/static/css/casebound.css" in page


def test_every_help_text_a_field_points_to_exists(cast) -> None:
    page = web_client(cast.officer).get("/cases/new/").content.decode()
    described = re.findall(r'aria-describedby="([^"]+)"', page)
    assert described, "the case form has fields with help text"
    for ids in described:
        for element_id in ids.split():
            assert f'id="{element_id}"' in page, element_id


def test_a_wrong_method_on_a_page_answers_in_the_sites_layout(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = web_client(cast.officer).get(f"/cases/{case.pk}/close/")  # POST-only address
    page = response.content.decode()
    assert response.status_code == 405 and "POST" in response["Allow"]
    assert "does not take that request" in page and 'aria-label="Main"' in page


def test_a_wrong_method_on_the_api_stays_a_machine_answer(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = web_client(cast.officer).get(f"/api/v1/cases/{case.pk}/close/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
