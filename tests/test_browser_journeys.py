"""Every role's journeys in a real Chromium, at 1,366 x 900 and at 390 x 844: on every page no
horizontal scroll, no serious or critical axe-core violation, and a screenshot of each width under
var/test-artifacts/journeys/ for a person to look at. Then one officer's journey by keyboard alone.

A page is one row of a journey: (file name, URL or action, expected h1). An action is a function
that does what a person does (fill, click) and ends on the page the row checks. The searches run
through the real Celery worker."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from agencies.accounts.mfa import current_code
from search.models import CandidateStatus, Review
from tests import photos
from tests.factories import PASSWORD, TOTP_SECRET, GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, enroll_people, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ARTIFACTS / "journeys"
WIDTHS = [(1366, 900), (390, 844)]
SERIOUS = ("serious", "critical")
SEARCH_WAIT = 120_000  # ms: the worker finds, embeds and matches the probe


@dataclass
class World:
    """What the journeys create as they go (ids for later URLs), and what the checks found."""

    ids: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    pages: int = 0


Go = str | Callable[[Page, World], None]


@dataclass(frozen=True)
class Row:
    name: str  # the screenshot's file name: <role>-<name>-<width>.png
    go: Go  # a URL (formatted with World.ids) or an action ending on the page
    heading: str | re.Pattern[str]  # the page's h1


# ---- actions: what a person does to reach a page that a URL alone does not show ----------------

def _open_case(page: Page, world: World) -> None:
    page.goto("/cases/new/")
    page.get_by_label("Case number").fill("2026-0802")
    page.get_by_label("Offence category").select_option(index=1)
    page.get_by_label("Justification").fill("CCTV still of a robbery at a petrol station")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("status").first).to_contain_text("Case 2026-0802 opened")
    world.ids["new_case"] = int(re.search(r"/cases/(\d+)/", page.url).group(1))  # type: ignore[union-attr]


def _start_search(page: Page, world: World) -> None:
    page.goto(f"/cases/{world.ids['case']}/")
    page.get_by_label("Probe photo").set_input_files(str(photos.photo_path("Ariel_Sharon", 2)))
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/searches/\d+/$"))
    world.ids["search"] = int(re.search(r"/searches/(\d+)/", page.url).group(1))  # type: ignore[union-attr]


def _results(page: Page, world: World) -> None:
    page.goto(f"/searches/{world.ids['search']}/")
    expect(page.get_by_role("link", name="Compare and review candidate 1")).to_be_visible(
        timeout=SEARCH_WAIT)


def _decide(decision: str, note: str) -> Callable[[Page, World], None]:
    def choose(page: Page, world: World) -> None:
        page.goto(f"/searches/{world.ids['search']}/candidates/1/")
        page.locator("label.usa-radio__label", has_text=decision).click()  # USWDS draws the radio
        page.get_by_label("Note for the record").fill(note)
        page.get_by_role("button", name="Continue").click()
    return choose


def _record(decision: str) -> Callable[[Page, World], None]:
    def record(page: Page, world: World) -> None:
        page.get_by_role("button", name=f"Record: {decision}").click()
        expect(page.get_by_role("status").first).to_contain_text("is recorded")
    return record


def _approve_case(page: Page, world: World) -> None:
    page.goto(f"/cases/{world.ids['new_case']}/")
    page.get_by_label("Reason (recorded; required to reject)").fill("Serious offence, CCTV only")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status").first).to_contain_text("approved")


def _invite(page: Page, world: World) -> None:
    page.goto("/people/")
    page.get_by_label("Email").fill("new.officer@north.example")
    page.get_by_label("Role", exact=True).select_option("officer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status").first).to_contain_text("Invitation e-mailed")
    expect(page.get_by_role("heading", name="Pending invitations")).to_be_visible()


def _enroll(page: Page, world: World) -> None:
    page.goto(f"/galleries/{world.ids['gallery']}/")
    page.get_by_label("Subject reference").fill("Laura_Bush")
    page.get_by_label("Photo", exact=True).set_input_files(str(photos.photo_path("Laura_Bush", 0)))
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Face enrolled")


def _filter_audit(page: Page, world: World) -> None:
    page.goto("/audit/")
    page.get_by_label("Officer (username)").fill("alice")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"actor=alice"))


def _not_found(page: Page, world: World) -> None:
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404


# ---- the journeys: one row per page -----------------------------------------------------------

JOURNEYS: dict[str, list[Row]] = {
    "officer": [
        Row("home", "/", "North County Sheriff"),
        Row("case-new", _open_case, "Case 2026-0802"),
        Row("cases", "/cases/", "Cases"),
        Row("case", "/cases/{case}/", "Case 2026-0801"),
        Row("search-progress", _start_search, re.compile(r"^Search \d+")),
        Row("search-results", _results, re.compile(r"^Search \d+")),
        Row("searches", "/searches/", "Searches"),
        Row("compare", "/searches/{search}/candidates/1/", "Compare candidate 1 with the probe"),
        Row("decision-confirm", _decide("Possible lead", "Same ears and chin"),
            "Confirm your decision on candidate 1"),
        Row("decision-recorded", _record("Possible lead"), "Compare candidate 1 with the probe"),
    ],
    "supervisor": [
        Row("home", "/", "North County Sheriff"),
        Row("review-queue", "/reviews/", "Waiting for you"),
        Row("case-approve", _approve_case, "Case 2026-0802"),
        Row("lead-compare", "/searches/{search}/candidates/1/", "Compare candidate 1 with the probe"),
        Row("lead-confirm", _decide("Possible lead", "Agree: ears and chin"),
            "Confirm your decision on candidate 1"),
        Row("lead-recorded", _record("Possible lead"), "Compare candidate 1 with the probe"),
    ],
    "agency_admin": [
        Row("home", "/", "North County Sheriff"),
        Row("people", "/people/", "People of North County Sheriff"),
        Row("invite", _invite, "People of North County Sheriff"),
        # the invitation just sent is listed under "Pending invitations" on this page
        Row("galleries", "/galleries/", "Galleries"),
        Row("gallery-enroll", _enroll, "North bookings"),
        Row("gallery-settings", "/galleries/{gallery}/settings/", "Settings of North bookings"),
        Row("policy", "/policy/", "Search policy"),
        Row("retention", "/retention/", "Retention schedule"),
        Row("usage", "/usage/", "Usage and invoices"),
        Row("face-model", "/face-model/", "Face model"),
        Row("opt-out-reviews", "/opt-out-reviews/", "Opt-out requests that match your faces"),
    ],
    "auditor": [
        Row("home", "/", "North County Sheriff"),  # the auditor's home: the month's figures
        Row("audit", "/audit/", "Audit trail"),
        Row("audit-filtered", _filter_audit, "Audit trail"),
        Row("reports", "/audit/reports/", re.compile(r"^Oversight report \d{4}$")),
        Row("case", "/cases/{case}/", "Case 2026-0801"),
        Row("search", "/searches/{search}/", re.compile(r"^Search \d+")),
    ],
    "operator": [
        Row("agencies", "/platform/", "Agencies and licenses"),
        Row("plans", "/platform/plans/", "Plans"),
        Row("invoices", "/platform/invoices/", "Invoices"),
        Row("role-requests", "/platform/role-requests/", "Roles to approve"),
        Row("opt-outs", "/platform/opt-outs/", "Opt-out requests"),
    ],
    "public": [
        Row("opt-out", "/opt-out/", "Ask to be removed from Casebound"),
        Row("transparency", "/transparency/", "Transparency"),
        Row("sign-in", "/accounts/login/", "Sign in"),
        Row("not-found", _not_found, "Nothing here"),
    ],
}
USERNAMES = {"officer": "alice", "supervisor": "bob", "agency_admin": "dana", "auditor": "erin",
             "operator": "operator"}


# ---- the checks made on every page at every width ---------------------------------------------

def _check(page: Page, role: str, row: Row, world: World) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(row.heading)
    page.wait_for_load_state("load")
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        # The page's resize handlers (tables that start to scroll take the focus) run on the next
        # frames, as they do before anyone can press Tab.
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        where = f"{role} {row.name} at {width} px ({page.url})"
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > width:
            world.problems.append(f"{where}: {scroll_width} px wide, scrolls sideways")
        world.problems.extend(f"{where}: {v}" for v in _axe_violations(page))
        world.problems.extend(f"{where}: image did not load: {src}" for src in _broken_images(page))
        page.screenshot(path=str(SHOTS / f"{role}-{row.name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})
    world.pages += 1


def _axe_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings, run inside the page (injected at each load by
    the context's init script, which the page's Content-Security-Policy does not block)."""
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
        .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                               targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))""")
    return [f"axe {v['impact']} {v['id']}: {v['help']} [{'; '.join(v['targets'])}]"
            for v in found if v["impact"] in SERIOUS]


def _broken_images(page: Page) -> list[str]:
    """The page's images that failed to load, once every pending one has finished (a page that
    polls may add images after its load event, as the search page does with the probe)."""
    return page.evaluate("""async () => {
        const pending = [...document.images].filter(i => !i.complete);
        await Promise.all(pending.map(i => new Promise(done => { i.onload = i.onerror = done; })));
        return [...document.images].filter(i => i.naturalWidth === 0).map(i => i.src); }""")


def _walk(page: Page, role: str, world: World) -> None:
    for row in JOURNEYS[role]:
        if callable(row.go):
            row.go(page, world)
        else:
            page.goto(row.go.format(**world.ids))
        _check(page, role, row, world)


def _context(browser: Any, live_server: Any) -> Any:
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` (make test does)"
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(30_000)
    context.add_init_script(path=str(AXE))
    return context


def test_every_roles_journeys_fit_both_widths_and_pass_axe(cast, browser, live_server,
                                                           celery_worker) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=2)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0801",
                         decided_by=cast.supervisor)
    world = World(ids={"case": case.pk, "gallery": gallery.pk})
    for role in JOURNEYS:
        context = _context(browser, live_server)
        page = context.new_page()
        page.set_viewport_size({"width": WIDTHS[0][0], "height": WIDTHS[0][1]})
        if role in USERNAMES:
            sign_in(page, USERNAMES[role], PASSWORD)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
        _walk(page, role, world)
        if role == "auditor":
            _export_audit(page)
        context.close()

    assert world.pages == sum(len(rows) for rows in JOURNEYS.values())
    assert [r.decision for r in Review.objects.order_by("pk")] == ["possible_lead"] * 2
    assert Review.objects.get(reviewer=cast.supervisor).candidate.status == CandidateStatus.POSSIBLE_LEAD
    assert not world.problems, "\n".join([f"{len(world.problems)} problems:", *world.problems])


def _export_audit(page: Page) -> None:
    """The auditor's CSV export of the filtered trail: a download, not a page."""
    page.goto("/audit/?actor=alice")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("CSV")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows and {row["actor"] for row in rows} == {"alice"}, rows[:2]


# ---- keyboard only ----------------------------------------------------------------------------

def _tab_to(page: Page, target: Any, back: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until `target` has the focus, as a keyboard user does."""
    for _ in range(limit):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    raise AssertionError(f"{target} never got the focus in {limit} presses of Tab")


def _focus_is_visible(page: Page) -> None:
    """The focused element draws a focus ring (outline or box-shadow) that differs from none."""
    style = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return {outline: s.outlineStyle, width: parseFloat(s.outlineWidth), shadow: s.boxShadow,
                what: document.activeElement.outerHTML.slice(0, 120)}; }""")
    visible = (style["outline"] != "none" and style["width"] >= 2) or style["shadow"] != "none"
    assert visible, f"no visible focus on {style['what']}: {style}"


def test_an_officer_searches_and_decides_with_the_keyboard_alone(cast, browser, live_server,
                                                                celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"), count=2)
    assigned_case(cast.agency, cast.officer, case_number="2026-0901", decided_by=cast.supervisor)
    context = _context(browser, live_server)
    page = context.new_page()
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/accounts/login/")
    _tab_to(page, page.get_by_label("Username"))
    _focus_is_visible(page)
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_label("Code from your authenticator app"))
    page.keyboard.type(current_code(TOTP_SECRET))
    page.keyboard.press("Enter")

    case_link = page.get_by_role("link", name="2026-0901")
    _tab_to(page, case_link)
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Case 2026-0901")
    _tab_to(page, page.get_by_label("Probe photo"))
    _focus_is_visible(page)
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(str(photos.photo_path("Ariel_Sharon", 2)))
    _tab_to(page, page.get_by_role("button", name="Search", exact=True))
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/searches/\d+/$"))

    compare = page.get_by_role("link", name="Compare and review candidate 1")
    expect(compare).to_be_visible(timeout=SEARCH_WAIT)
    _tab_to(page, compare)
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare candidate 1 with the probe")
    lead = page.get_by_label("Possible lead")
    _tab_to(page, lead)
    page.keyboard.press("Space")
    expect(lead).to_be_checked()
    _tab_to(page, page.get_by_label("Note for the record"))
    page.keyboard.type("Same ears and chin")
    _tab_to(page, page.get_by_role("button", name="Continue"))
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your decision on candidate 1")
    record = page.get_by_role("button", name="Record: Possible lead")
    _tab_to(page, record)
    _focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text("Your decision on candidate 1 is recorded")
    context.close()
    assert Review.objects.get().note == "Same ears and chin"
