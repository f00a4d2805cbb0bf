"""Opening a case: the form offers only the offences the agency's policy allows, chooses none for
the officer, and a case needs its justification on every path."""

from __future__ import annotations

import re

from search import selectors
from search.models import Case
from tests.fixtures import api_client, web_client


def _offered(page: str) -> list[str]:
    select = re.search(r'<select name="offence_category".*?</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]*)"', select.group(0))


def test_the_form_offers_only_the_policys_offences_and_no_default(cast) -> None:
    page = web_client(cast.officer).get("/cases/new/").content.decode()
    offered = _offered(page)
    assert offered[0] == ""
    assert re.findall(r'<option value="([^"]*)" selected', page) == [""]  # no offence chosen for you
    assert set(offered[1:]) == set(selectors.policy_of(cast.agency).allowed_offences)
    assert "theft" not in offered and "robbery" in offered  # the default policy's


def test_a_case_without_justification_is_refused_on_the_page_and_the_api(cast) -> None:
    page = web_client(cast.officer).post("/cases/new/", {
        "case_number": "2026-1", "offence_category": "robbery", "justification": "  "})
    assert page.status_code == 200 and b"This field is required" in page.content
    api = api_client(cast.officer).post("/api/v1/cases/", {
        "case_number": "2026-1", "offence_category": "robbery"}, format="json")
    assert api.status_code == 400 and "justification" in api.json()["errors"]
    assert not Case.objects.filter(case_number="2026-1").exists()
