"""The portal's shell is the U.S. Web Design System, served by this server alone: its CSS, JS and
fonts come from npm's node_modules through staticfiles, the Content-Security-Policy stays 'self'
only, and the phone menu works with the keyboard."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.fixtures import sign_in, web_client

USWDS_FILES = ["uswds/css/uswds.min.css", "uswds/js/uswds.min.js",
               "uswds/fonts/source-sans-pro/sourcesanspro-regular-webfont.woff2",
               "uswds/img/usa-icons/close.svg"]


def test_uswds_files_are_found_by_staticfiles_from_the_npm_install() -> None:
    for name in USWDS_FILES:
        assert finders.find(name), f"{name}: run `make run` or `npm ci` to install USWDS"


def test_pages_load_uswds_from_this_server_and_the_policy_stays_self_only(cast) -> None:
    response = web_client(cast.officer).get("/")
    page = response.content.decode()
    assert 'href="/static/uswds/css/uswds.min.css"' in page
    assert 'src="/static/uswds/js/uswds.min.js"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "nothing from another origin"
    policy = response.headers["Content-Security-Policy"]
    for directive in ("script-src 'self'", "style-src 'self'", "font-src 'self'"):
        assert re.search(rf"{directive}(;|$)", policy), policy
    assert "unsafe-inline" not in policy


def test_form_errors_use_the_design_systems_error_state(cast) -> None:
    page = web_client(cast.officer).post("/cases/new/", {"case_number": ""}).content.decode()
    assert "usa-form-group--error" in page and 'class="usa-error-message"' in page
    assert re.search(r'<input[^>]*class="usa-input usa-input--error"', page)


def test_a_group_of_checkboxes_is_a_fieldset_named_by_its_legend(cast) -> None:
    page = web_client(cast.admin).get("/policy/").content.decode()
    fieldset = re.search(r'<fieldset class="usa-fieldset.*?</fieldset>', page, re.S)
    assert fieldset and '<legend class="usa-legend">' in fieldset.group(0)
    labels = re.findall(r'<label class="usa-checkbox__label" for="([^"]+)"', fieldset.group(0))
    assert labels, "each offence has a labelled checkbox"
    for element_id in labels:
        assert f'id="{element_id}"' in fieldset.group(0), element_id


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_menu_opens_and_closes_with_the_keyboard_and_nothing_is_blocked(
        cast, page) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "alice", PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    cases = nav.get_by_role("link", name="Cases")
    expect(cases).to_be_hidden()  # folded into the menu on a phone
    menu = page.get_by_role("button", name="Menu", exact=True)
    menu.focus()
    page.keyboard.press("Enter")
    expect(cases).to_be_visible()
    expect(page.locator(".usa-menu-btn")).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Close the menu")).to_be_focused()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    page.keyboard.press("Escape")  # USWDS closes the menu and gives focus back to its button
    expect(cases).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.press("Enter")
    cases.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/cases/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cases")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Source Sans Pro Web" in font
    assert page.evaluate("document.fonts.check('16px \"Source Sans Pro Web\"')")
    assert blocked == [], blocked
