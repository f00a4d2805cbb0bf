"""Lists that scale: every list page and its API endpoint pages, sorts and filters the same way,
keeps the filter across pages, names a wrong filter value, and lists only the agency's rows that
the reader may see."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Role
from search.models import (
    Candidate,
    CaseStatus,
    Face,
    LegalBasis,
    OffenceCategory,
    Search,
    SearchStatus,
    Subject,
)
from tests.factories import PASSWORD, CaseFactory, GalleryFactory, assigned_case, member
from tests.fixtures import ARTIFACTS, api_client, enroll_people, sign_in, web_client


def _case_numbers(page: str) -> list[str]:
    return re.findall(r'<a href="/cases/\d+/">([^<]+)</a></td>', page)


def _page(user: Any, url: str, **query: Any) -> tuple[int, str]:
    response = web_client(user).get(url, query)
    return response.status_code, response.content.decode()


@pytest.fixture
def many_cases(cast) -> list[Any]:
    """32 approved robbery cases and 3 pending homicide ones in alice's agency; 5 in another."""
    approved = [CaseFactory(agency=cast.agency, opened_by=cast.officer, case_number=f"N-{n:03d}")
                for n in range(32)]
    for n in range(3):
        CaseFactory(agency=cast.agency, opened_by=cast.officer, case_number=f"P-{n:03d}",
                    status=CaseStatus.PENDING, offence_category=OffenceCategory.HOMICIDE)
    for n in range(5):
        CaseFactory(agency=cast.other_agency, opened_by=cast.other_officer, case_number=f"S-{n:03d}")
    return approved


def test_cases_come_25_to_a_page_and_the_filter_stays_on_every_page(cast, many_cases) -> None:
    status, first = _page(cast.officer, "/cases/", status="approved", sort="case")
    assert status == 200 and _case_numbers(first) == [f"N-{n:03d}" for n in range(25)]
    assert 'href="?status=approved&amp;sort=case&amp;page=2"' in first
    assert 'aria-current="page"' in first and "1–25 of 32" in first
    _, second = _page(cast.officer, "/cases/", status="approved", sort="case", page=2)
    assert _case_numbers(second) == [f"N-{n:03d}" for n in range(25, 32)]
    # Past the end: the last page, not an error; not a number: the first.
    assert _case_numbers(_page(cast.officer, "/cases/", status="approved", sort="case",
                               page=99)[1]) == _case_numbers(second)
    assert _case_numbers(_page(cast.officer, "/cases/", status="approved", sort="case",
                               page="x")[1])[0] == "N-000"


def test_cases_sort_by_a_header_both_ways_and_say_so(cast, many_cases) -> None:
    _, ascending = _page(cast.officer, "/cases/", sort="case")
    assert _case_numbers(ascending)[:2] == ["N-000", "N-001"]
    assert re.search(r'<th scope="col" aria-sort="ascending"><a class="sort-link" '
                     r'href="\?sort=-case">Case', ascending)
    _, descending = _page(cast.officer, "/cases/", sort="-case")
    assert _case_numbers(descending)[:2] == ["P-002", "P-001"]
    assert 'aria-sort="descending"' in descending
    _, by_offence = _page(cast.officer, "/cases/", offence="homicide")
    assert sorted(_case_numbers(by_offence)) == ["P-000", "P-001", "P-002"]


def test_a_wrong_case_filter_is_named_on_the_page_and_in_the_api(cast, many_cases) -> None:
    status, page = _page(cast.officer, "/cases/", status="bogus")
    assert status == 400 and "bogus is not one of the choices" in page
    assert _case_numbers(page) == [] and "Fix the filter above" in page
    status, page = _page(cast.officer, "/cases/", sort="justification")
    assert status == 400 and "not a column to sort by" in page
    api = api_client(cast.officer)
    answer = api.get("/api/v1/cases/", {"offence": "jaywalking"})
    assert answer.status_code == 400 and "offence" in answer.json()["errors"]
    assert api.get("/api/v1/cases/", {"sort": "justification"}).status_code == 400


def test_the_cases_api_filters_and_sorts_like_the_page(cast, many_cases) -> None:
    api = api_client(cast.officer)
    rows = api.get("/api/v1/cases/", {"status": "approved", "sort": "-case", "limit": 5}).json()
    assert rows["count"] == 32 and [r["case_number"] for r in rows["results"]] == [
        "N-031", "N-030", "N-029", "N-028", "N-027"]
    # One case's address ignores a list's filter: it is not hidden by a stray ?status=.
    case = many_cases[0]
    assert api.get(f"/api/v1/cases/{case.pk}/", {"status": "pending"}).status_code == 200


def test_no_list_shows_another_agencys_cases(cast, many_cases) -> None:
    _, page = _page(cast.officer, "/cases/", case_number="S-")
    assert _case_numbers(page) == [] and "No case matches this filter" in page
    _, theirs = _page(cast.other_officer, "/cases/")
    assert sorted(_case_numbers(theirs)) == [f"S-{n:03d}" for n in range(5)]
    rows = api_client(cast.other_officer).get("/api/v1/cases/", {"case_number": "N-"}).json()
    assert rows["count"] == 0


# Searches -------------------------------------------------------------------------------------

def _more_searches(like: Search, count: int, **fields: Any) -> list[Search]:
    """Rows that reuse a real search's probe files: no model run is needed to list them."""
    like.refresh_from_db()  # the fixture's object predates the run that stored the aligned face
    case = fields.get("case", like.case)
    return [Search.objects.create(agency=case.agency, case=case,
                                  requested_by=fields.get("user", like.requested_by),
                                  probe=like.probe.name, probe_face=like.probe_face.name,
                                  status=fields.get("status", SearchStatus.DONE))
            for _ in range(count)]


def _search_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="search-(\d+)">', page)]


def test_a_search_row_shows_its_probe_thumbnail_candidate_count_and_status_tag(cast, search) -> None:
    candidates = Candidate.objects.filter(search=search).count()
    assert candidates > 0
    _, page = _page(cast.officer, "/searches/")
    row = re.search(rf'<tr id="search-{search.pk}">.*?</tr>', page, re.S).group(0)
    assert f'src="/images/searches/{search.pk}/face/"' in row and 'alt="Face searched for' in row
    assert f'<td data-label="Candidates" class="num">{candidates}</td>' in row
    assert '<span class="usa-tag status status-done">Done</span>' in row
    assert '<th scope="col" class="num"><a class="sort-link" href="?sort=candidates">Candidates' in page
    # The thumbnail is the access-checked probe image: served to alice and audited ...
    seen = AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED).count()
    assert web_client(cast.officer).get(f"/images/searches/{search.pk}/face/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED).count() > seen
    # ... and to no one outside the case: another agency's officer gets the 404 of a missing one.
    assert web_client(cast.other_officer).get(
        f"/images/searches/{search.pk}/face/").status_code == 404


def test_searches_list_only_what_the_reader_may_open(cast, search) -> None:
    colleague = member(cast.agency, Role.OFFICER, "frank")  # same agency, not on the case
    theirs = assigned_case(cast.other_agency, cast.other_officer, case_number="S-1")
    _more_searches(search, 2, case=theirs, user=cast.other_officer)
    assert _search_ids(_page(cast.officer, "/searches/")[1]) == [search.pk]
    assert _search_ids(_page(cast.auditor, "/searches/")[1]) == [search.pk]  # oversight: all
    for outsider in (colleague, cast.admin):  # an admin sees no results
        assert _search_ids(_page(outsider, "/searches/")[1]) == []
        assert api_client(outsider).get("/api/v1/searches/").json()["count"] == 0
    assert len(_search_ids(_page(cast.other_officer, "/searches/")[1])) == 2
    # Naming the other agency's case in the filter finds nothing, on the page and in the API.
    assert _search_ids(_page(cast.other_officer, "/searches/", case_number="2026-0101")[1]) == []
    assert api_client(cast.other_officer).get(
        "/api/v1/searches/", {"case_number": "2026-0101"}).json()["count"] == 0
    # A thumbnail's address is no way around the list: a colleague off the case is refused (and
    # the refusal audited); the admin too.
    for outsider in (colleague, cast.admin):
        assert web_client(outsider).get(f"/images/searches/{search.pk}/face/").status_code == 403
    assert AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED, actor=colleague,
                                     outcome="refused").exists()


def test_searches_page_sort_and_filter_by_status_and_case(cast, search) -> None:
    other_case = assigned_case(cast.agency, cast.officer, case_number="2026-0202",
                               decided_by=cast.supervisor)
    done = _more_searches(search, 29)
    failed = _more_searches(search, 3, case=other_case, status=SearchStatus.FAILED)
    status, first = _page(cast.officer, "/searches/", status="done")
    assert status == 200 and len(_search_ids(first)) == 25 and "1–25 of 30" in first
    assert 'href="?status=done&amp;page=2"' in first
    _, second = _page(cast.officer, "/searches/", status="done", page=2)
    assert set(_search_ids(first) + _search_ids(second)) == {search.pk, *(s.pk for s in done)}
    _, by_case = _page(cast.officer, "/searches/", case_number="0202", sort="started")
    assert _search_ids(by_case) == [s.pk for s in failed]
    _, by_count = _page(cast.officer, "/searches/", sort="-candidates")
    assert _search_ids(by_count)[0] == search.pk  # the only one with candidates
    status, wrong = _page(cast.officer, "/searches/", status="finished")
    assert status == 400 and "finished is not one of the choices" in wrong
    api = api_client(cast.officer)
    rows = api.get("/api/v1/searches/", {"status": "failed", "sort": "started"}).json()
    assert [r["id"] for r in rows["results"]] == [s.pk for s in failed]
    assert rows["results"][0]["candidate_count"] == 0
    assert api.get("/api/v1/searches/", {"sort": "probe"}).status_code == 400


# Galleries, people, audit ---------------------------------------------------------------------

def test_galleries_page_filter_and_sort(cast) -> None:
    for n in range(27):
        GalleryFactory(agency=cast.agency, name=f"Bookings {n:02d}")
    GalleryFactory(agency=cast.agency, name="Missing persons", legal_basis=LegalBasis.MISSING_PERSON)
    GalleryFactory(agency=cast.other_agency, name="Bookings of the south")
    status, page = _page(cast.admin, "/galleries/", sort="-name")
    names = re.findall(r'<a href="/galleries/\d+/">([^<]+)</a>', page)
    assert status == 200 and names[:2] == ["Missing persons", "Bookings 26"] and len(names) == 25
    _, missing = _page(cast.admin, "/galleries/", legal_basis="missing_person")
    assert re.findall(r'<a href="/galleries/\d+/">([^<]+)</a>', missing) == ["Missing persons"]
    _, south = _page(cast.admin, "/galleries/", name="south")
    assert "No gallery matches this filter" in south
    status, wrong = _page(cast.admin, "/galleries/", legal_basis="hunch")
    assert status == 400 and "hunch is not a legal basis" in wrong
    rows = api_client(cast.admin).get("/api/v1/galleries/", {"name": "bookings", "sort": "name"})
    assert rows.json()["count"] == 27 and rows.json()["results"][0]["name"] == "Bookings 00"


def test_people_page_filter_sort_and_pages(cast) -> None:
    for n in range(26):
        member(cast.agency, Role.OFFICER, f"officer{n:02d}")
    disabled = member(cast.agency, Role.AUDITOR, "zed")
    disabled.is_active = False
    disabled.save()
    status, page = _page(cast.admin, "/people/")
    assert status == 200 and "1–25 of 31" in page and 'id="person-charlie"' not in page
    _, auditors = _page(cast.admin, "/people/", role="auditor", sort="-name")
    assert re.findall(r'<tr id="person-([^"]+)"', auditors) == ["zed", "erin"]
    _, disabled_only = _page(cast.admin, "/people/", active="no")
    assert re.findall(r'<tr id="person-([^"]+)"', disabled_only) == ["zed"]
    _, theirs = _page(cast.admin, "/people/", name="oscar")
    assert re.findall(r'<tr id="person-([^"]+)"', theirs) == []
    status, wrong = _page(cast.admin, "/people/", role="sheriff")
    assert status == 400 and "sheriff is not a role" in wrong
    assert web_client(cast.officer).get("/people/").status_code == 403


def test_audit_trail_pages_and_sorts(cast) -> None:
    for n in range(30):
        audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.agency, actor=cast.admin,
                     details={"n": n})
    audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.other_agency,
                 actor=cast.other_admin, details={"n": "south"})
    _, newest = _page(cast.auditor, "/audit/", action="settings_changed")
    seqs = [int(s) for s in re.findall(r'<tr class="audit-row"><td>(\d+)</td>', newest)]
    assert len(seqs) == 25 and seqs == sorted(seqs, reverse=True) and "n: south" not in newest
    assert 'href="?action=settings_changed&amp;page=2"' in newest
    every = sorted(AuditEvent.objects.filter(agency=cast.agency, action=AuditAction.SETTINGS_CHANGED)
                   .values_list("seq", flat=True))
    _, oldest = _page(cast.auditor, "/audit/", action="settings_changed", sort="seq", page=2)
    assert [int(s) for s in re.findall(r'<tr class="audit-row"><td>(\d+)</td>', oldest)] == every[25:]
    status, wrong = _page(cast.auditor, "/audit/", sort="ip")
    assert status == 400 and "not a column to sort by" in wrong
    assert api_client(cast.auditor).get("/api/v1/audit/", {"sort": "ip"}).status_code == 400


# Dates ----------------------------------------------------------------------------------------

def test_list_pages_show_iso_dates_and_name_the_time_zone_once(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer)
    case.created_at = datetime(2026, 11, 30, 14, 5, 9, tzinfo=UTC)
    case.save(update_fields=["created_at"])
    for user, url in ((cast.officer, "/cases/"), (cast.officer, "/searches/"),
                      (cast.auditor, "/audit/"), (cast.admin, "/people/"),
                      (cast.officer, f"/cases/{case.pk}/"), (cast.officer, "/"),
                      (cast.admin, "/policy/"),
                      (cast.supervisor, "/reviews/"), (cast.admin, "/opt-out-reviews/")):
        _, page = _page(user, url)
        assert page.count("Dates and times are in UTC") == 1, url
        assert not re.search(r"\d\d:\d\d(:\d\d)? UTC", page), url  # said once, not per date
    _, cases = _page(cast.officer, "/cases/")
    assert '<time datetime="2026-11-30T14:05:09+00:00">2026-11-30 14:05</time>' in cases


# Phones ---------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_lists_fit_a_phone_and_a_laptop_without_page_scroll(cast, search, page) -> None:
    for n in range(30):
        CaseFactory(agency=cast.agency, opened_by=cast.officer,
                    case_number=f"2026-LONG-CASE-NUMBER-{n:04d}")
    _more_searches(search, 26)
    sign_in(page, "alice", PASSWORD)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for url, pages_of in (("/cases/?status=approved&sort=-case", "cases"),
                              ("/searches/?status=done", "searches")):
            page.goto(url)
            assert page.get_by_role("navigation", name=f"Pages of {pages_of}").is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
            page.wait_for_load_state("networkidle")  # the thumbnails, before the screenshot
            page.screenshot(path=str(ARTIFACTS / f"list-{pages_of}-{width}.png"), full_page=True)
            page.get_by_role("link", name="Page 2").click()
            page.wait_for_load_state("networkidle")  # measured once its stylesheets apply
            assert "status=" in page.url and "page=2" in page.url
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
        # The first thumbnail loaded: the access-checked image answered the signed-in officer.
        page.goto("/searches/?status=done")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.querySelector('img.probe-thumb').naturalWidth") > 0
    page.wait_for_load_state("networkidle")  # no image request still running at teardown


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_admins_lists_fit_a_phone_and_a_laptop_without_page_scroll(cast, page) -> None:
    for n in range(30):
        member(cast.agency, Role.OFFICER, f"officer-with-a-long-username-{n:02d}")
        audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.agency, actor=cast.admin,
                     details={"note": "a long detail " * 8})
    sign_in(page, "dana", PASSWORD)
    for width, height in ((1366, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for url, pages_of in (("/people/?role=officer", "accounts"),
                              ("/audit/?action=settings_changed", "the audit trail")):
            page.goto(url)
            assert page.get_by_role("navigation", name=f"Pages of {pages_of}").is_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
            page.screenshot(path=str(ARTIFACTS / f"list-{url.split('/')[1]}-{width}.png"),
                            full_page=True)

def test_a_gallerys_subjects_come_in_pages_and_are_found_by_name(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=1)  # one real face; the rest share its file (no model run)
    face = Face.objects.filter(gallery=gallery).first()
    for n in range(27):
        subject = Subject.objects.create(agency=cast.agency, gallery=gallery,
                                         reference=f"R-{n:03d}", display_name=f"Person {n}")
        face.pk, face.subject, face.source_sha256 = None, subject, ""  # a copy of the real face
        face.save(force_insert=True)
    assert "Subjects (28)" in _page(cast.admin, f"/galleries/{gallery.pk}/")[1]
    status, first = _page(cast.admin, f"/galleries/{gallery.pk}/", q="R-0", sort="-reference")
    references = re.findall(r"<li><strong>([^<]+)</strong>", first)
    assert status == 200 and len(references) == 25 and references[:2] == ["R-026", "R-025"]
    assert "q=R-0&amp;sort=-reference&amp;page=2" in first
    _, found = _page(cast.admin, f"/galleries/{gallery.pk}/", q="person 7")
    assert re.findall(r"<li><strong>([^<]+)</strong>", found) == ["R-007"]
    status, wrong = _page(cast.admin, f"/galleries/{gallery.pk}/", sort="embedding")
    assert status == 400 and "not a column to sort by" in wrong
