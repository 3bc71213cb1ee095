"""The dashboard in a real browser: sign in, claim, note, close; acknowledge an escalation;
a link worker kept out of the escalation log; labels and keyboard access."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from handoff import audit
from tests.browser.conftest import Served
from tests.browser.seed import EXCERPT, add_escalation, add_people
from tests.handoff.dashboard_support import PASSWORD, add_referral, status_of

pytestmark = pytest.mark.browser


def sign_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_worker_claims_adds_a_note_and_closes(page: Page, served: Served) -> None:
    referral_id = add_referral(served.sessions, served.cipher)
    sign_in(page, "wren.worker")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    page.get_by_role("button", name="Claim next referral").click()
    expect(page).to_have_url(re.compile(f"/referrals/{referral_id}$"))
    expect(page.get_by_role("status")).to_have_text("Claimed: this case is yours now.")
    expect(page.get_by_text("i feel like a lighthouse keeper with no lighthouse")).to_be_visible()

    page.get_by_label("Add a note").fill("Texted to arrange a call after school.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Texted to arrange a call after school.")).to_be_visible()

    page.get_by_label("How").select_option("sms")
    page.get_by_label("What happened").select_option("reached")
    page.get_by_role("button", name="Record attempt").click()
    expect(page.locator(".badges")).to_contain_text("Contacted")

    page.get_by_label("Outcome").select_option("connected_to_activity")
    page.get_by_role("button", name="Close case").click()
    expect(page.locator(".badges")).to_contain_text("Closed")
    expect(page.get_by_text("Connected to an activity")).to_be_visible()
    row = status_of(served.sessions, referral_id)
    assert (row.status, row.outcome) == ("closed", "connected_to_activity")


def test_a_lead_acknowledges_an_escalation(page: Page, served: Served) -> None:
    from datetime import UTC, datetime

    escalation = add_escalation(served.sessions, served.cipher, datetime.now(UTC))
    sign_in(page, "lena.lead")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Escalations").click()
    expect(page.get_by_role("heading", name="Escalations")).to_be_visible()
    page.get_by_role("link", name=re.compile("^Open")).first.click()
    expect(page.locator("blockquote.excerpt")).to_have_text(EXCERPT)
    expect(page.locator(".turn--trigger")).to_contain_text(EXCERPT)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_have_text("Acknowledged.")
    expect(page.get_by_text("by lena.lead")).to_be_visible()
    with served.sessions.begin() as session:
        trail = [
            e.action for e in audit.events_for(session, "escalation", escalation.escalation_id)
        ]
    assert "escalation.acknowledged" in trail


def test_a_link_worker_cannot_open_the_escalation_log(page: Page, served: Served) -> None:
    from datetime import UTC, datetime

    escalation = add_escalation(served.sessions, served.cipher, datetime.now(UTC))
    sign_in(page, "wren.worker")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Queue")).to_be_visible()
    expect(nav.get_by_role("link", name="Escalations")).to_have_count(0)
    for path in ("/escalations", f"/escalations/{escalation.escalation_id}"):
        response = page.goto(path)
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="Not available to you")).to_be_visible()
        expect(page.get_by_text(EXCERPT)).to_have_count(0)


def test_every_form_field_has_a_label_and_the_keyboard_reaches_the_content(
    page: Page, served: Served
) -> None:
    from datetime import UTC, datetime

    add_people(served.sessions, served.cipher, datetime.now(UTC))
    sign_in(page, "lena.lead")
    page.get_by_role("button", name="Claim next referral").click()
    unlabelled_script = """() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden')
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.name)"""
    for path in ("/queue", page.url, "/escalations", "/caseloads", "/rules"):
        page.goto(path)
        assert page.evaluate(unlabelled_script) == [], path
    page.goto("/queue")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
