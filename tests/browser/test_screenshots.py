"""Every main page renders in a real browser; with YOUTHLINK_SCREENSHOTS=1 the shots go to docs/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize

from handoff.dashboard.rulecheck import default_rule_check
from tests.browser.conftest import Served
from tests.browser.seed import seed_all
from tests.handoff.dashboard_support import PASSWORD, dashboard_state

pytestmark = [pytest.mark.browser]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
OUT = DOCS
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def shoot(
    browser: Browser,
    served: Served,
    username: str,
    pages: dict[str, str],
    viewport: ViewportSize,
    suffix: str,
) -> None:
    context = browser.new_context(
        base_url=served.url, viewport=viewport, locale="en-GB", device_scale_factor=1
    )
    page = context.new_page()
    try:
        if username:
            page.goto("/login")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
        for name, path in pages.items():
            response = page.goto(path)
            assert response is not None and response.ok, (path, response and response.status)
            page.screenshot(path=str(OUT / f"{name}-{suffix}.png"), full_page=True)
    finally:
        context.close()


def test_screenshots_of_the_main_pages(
    browser: Browser, served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.environ.get("YOUTHLINK_SCREENSHOTS") != "1":
        monkeypatch.setattr(__name__ + ".OUT", tmp_path)
    OUT.mkdir(parents=True, exist_ok=True)
    dashboard_state(served.app).rule_check = default_rule_check()  # the real rules' report
    ids = seed_all(served.sessions, served.cipher, served.crew)
    referral = f"/referrals/{ids['referral']}"
    escalation = f"/escalations/{ids['escalation']}"
    shoot(browser, served, "", {"login": "/login"}, LAPTOP, "laptop")
    shoot(
        browser,
        served,
        "wren.worker",
        {"queue": "/queue?status=open", "caseload": "/caseload", "referral": referral},
        LAPTOP,
        "laptop",
    )
    shoot(
        browser,
        served,
        "lena.lead",
        {
            "escalations": "/escalations",
            "escalation": escalation,
            "rules": "/rules",
            "caseloads": "/caseloads",
        },
        LAPTOP,
        "laptop",
    )
    shoot(
        browser,
        served,
        "ada.admin",
        {"users": "/users", "rota": "/rota", "settings": "/settings"},
        LAPTOP,
        "laptop",
    )
    shoot(
        browser,
        served,
        "wren.worker",
        {"queue": "/queue?status=open", "referral": referral},
        PHONE,
        "phone",
    )
    shoot(browser, served, "lena.lead", {"escalation": escalation}, PHONE, "phone")
    assert len(list(OUT.glob("*.png"))) >= 14
