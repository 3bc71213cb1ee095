"""Who may reach what: every dashboard route for every role, ids from other roles' pages,
CSRF, cookies, session expiry, sign-in limits and lockout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from handoff import queue, rota, users
from handoff.dashboard import DashboardConfig
from handoff.dashboard.config import LoginRateLimit
from handoff.models import NoteRow, ReferralRow, RotaEntryRow, StaffSessionRow, UserRow
from handoff.queue import QueuePolicy
from tests.handoff.dashboard_support import (
    CSRF,
    PASSWORD,
    DashboardEnv,
    add_referral,
    csrf_from,
    make_env,
)
from tests.handoff.store import escalate
from tests.support.db import sqlite_url_in
from youthlink.migrations import upgrade


@dataclass(frozen=True)
class Ids:
    referral: str
    escalation: str
    user: int
    rota_entry: int


@pytest.fixture
def env(tmp_path: Path) -> Iterator[DashboardEnv]:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    built = make_env(url)
    yield built
    built.engine.dispose()


def seed(env: DashboardEnv) -> Ids:
    referral = add_referral(env.sessions, env.cipher)
    escalation = escalate(env.sessions, env.cipher, conversation_id="c_escalated")
    with env.sessions.begin() as session:
        entry = rota.add_entry(
            session,
            env.cipher,
            env.crew.lead.id,
            phone="07700900123",
            telegram_chat="",
            actor="system",
        )
    return Ids(referral, escalation.escalation_id, env.crew.other_worker.id, entry)


ALL = ("link_worker", "safeguarding_lead", "admin")
CASE = ("link_worker", "safeguarding_lead")
LEAD = ("safeguarding_lead",)
OVERSIGHT = ("safeguarding_lead", "admin")
ADMIN = ("admin",)

# (method, path, roles allowed, form). Order matters: allowed posts run in this order for the
# role being tested, so each finds the case in a state where it makes sense.
ROUTES: list[tuple[str, str, tuple[str, ...], dict[str, str]]] = [
    ("GET", "/queue", CASE, {}),
    ("GET", "/queue?status=open&priority=urgent&overdue=true&page=2", CASE, {}),
    ("GET", "/caseload", CASE, {}),
    ("GET", "/referrals/{referral}", CASE, {}),
    ("GET", "/referrals/{referral}/export.json", CASE, {}),
    ("GET", "/referrals/{referral}/export.txt", CASE, {}),
    ("GET", "/caseloads", OVERSIGHT, {}),
    ("GET", "/escalations", LEAD, {}),
    ("GET", "/escalations?status=open&severity=4&category=self_harm&from=2020-01-01", LEAD, {}),
    ("GET", "/escalations/{escalation}", LEAD, {}),
    ("GET", "/escalations/export.csv?from=2020-01-01&to=2030-12-31", LEAD, {}),
    ("GET", "/rules", LEAD, {}),
    ("GET", "/users", ADMIN, {}),
    ("GET", "/rota", ADMIN, {}),
    ("GET", "/settings", ADMIN, {}),
    ("GET", "/account/password", ALL, {}),
    ("POST", "/referrals/{referral}/claim", CASE, {}),
    ("POST", "/referrals/{referral}/notes", CASE, {"note": "called, no answer"}),
    ("POST", "/referrals/{referral}/attempts", CASE, {"method": "sms", "result": "reached"}),
    ("POST", "/referrals/{referral}/close", CASE, {"outcome": "declined"}),
    ("POST", "/referrals/{referral}/release", CASE, {}),
    ("POST", "/referrals/{referral}/reassign", CASE, {"to_user": "{user}"}),
    ("POST", "/referrals/{referral}/withdraw", CASE, {}),
    ("POST", "/queue/claim-next", CASE, {}),
    ("POST", "/escalations/{escalation}/acknowledge", LEAD, {}),
    (
        "POST",
        "/escalations/{escalation}/close",
        LEAD,
        {"outcome": "advice_given", "action_taken": "called the young person back"},
    ),
    ("POST", "/rules/run", LEAD, {}),
    ("POST", "/users", ADMIN, {"username": "new.person", "role": "link_worker"}),
    ("POST", "/users/{user}/role", ADMIN, {"role": "safeguarding_lead"}),
    ("POST", "/users/{user}/cap", ADMIN, {"cap": "7"}),
    ("POST", "/users/{user}/deactivate", ADMIN, {}),
    ("POST", "/users/{user}/activate", ADMIN, {}),
    ("POST", "/users/{user}/reset-password", ADMIN, {}),
    ("POST", "/rota", ADMIN, {"lead": "{lead}", "phone": "", "telegram_chat": "123456"}),
    ("POST", "/rota/{rota_entry}/down", ADMIN, {}),
    ("POST", "/rota/{rota_entry}/pause", ADMIN, {}),
    (
        "POST",
        "/account/password",
        ALL,
        {
            "current": PASSWORD,
            "new": "another long passphrase",
            "confirm": "another long passphrase",
        },
    ),
    ("POST", "/logout", ALL, {}),
]


def fill(template: str, ids: Ids, env: DashboardEnv) -> str:
    return template.format(
        referral=ids.referral,
        escalation=ids.escalation,
        user=ids.user,
        rota_entry=ids.rota_entry,
        lead=env.crew.lead.id,
    )


ROLE_USER = {"link_worker": "worker", "safeguarding_lead": "lead", "admin": "admin"}


@pytest.mark.parametrize("role", ALL)
def test_every_route_for_every_role(env: DashboardEnv, role: str) -> None:
    ids = seed(env)
    client = env.client(ROLE_USER[role])
    token = csrf_from(client)
    problems = []
    for method, template, allowed, form in ROUTES:
        path = fill(template, ids, env)
        if method == "GET":
            response = client.get(path)
        else:
            data = {k: fill(v, ids, env) for k, v in form.items()}
            response = client.post(path, data={**data, "csrf": token})
        location = response.headers.get("location", "")
        if role in allowed:
            sent_away = location.startswith("/login") and template != "/logout"
            if response.status_code in (401, 403, 404) or sent_away:
                problems.append(f"{role} refused {method} {template}: {response.status_code}")
            elif response.status_code >= 500:
                problems.append(f"{role} broke {method} {template}: {response.status_code}")
        elif response.status_code != 403:
            problems.append(f"{role} not refused {method} {template}: {response.status_code}")
    assert problems == []


def test_every_route_sends_strangers_to_sign_in(env: DashboardEnv) -> None:
    ids = seed(env)
    client = env.client()
    for method, template, _, form in ROUTES:
        path = fill(template, ids, env)
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=/"), path
        else:
            response = client.post(path, data=form)
            assert response.status_code in (303, 403), path
            assert response.headers.get("location", "/login").startswith("/login"), path
    with env.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(UserRow)) == 4
        assert session.get(ReferralRow, ids.referral).status == "new"  # type: ignore[union-attr]


def test_ids_from_other_roles_pages_are_refused(env: DashboardEnv) -> None:
    ids = seed(env)
    early = escalate(env.sessions, env.cipher, conversation_id="c_early").referral_id
    with env.sessions.begin() as session:
        theirs = queue.claim_next(
            session, env.cipher, env.crew.staff("other_worker"), QueuePolicy()
        )
    worker = env.client("worker")
    token = csrf_from(worker)
    assert worker.get(f"/referrals/{theirs}").status_code == 403  # another worker's case
    assert worker.get(f"/referrals/{theirs}/export.json").status_code == 403
    refused = worker.post(f"/referrals/{theirs}/notes", data={"note": "x", "csrf": token})
    assert refused.status_code == 403
    assert worker.get(f"/referrals/{early}").status_code == 403  # no consent yet: leads only
    assert worker.get(f"/escalations/{ids.escalation}").status_code == 403
    assert worker.post(f"/rota/{ids.rota_entry}/remove", data={"csrf": token}).status_code == 403

    admin = env.client("admin")
    assert admin.get(f"/referrals/{ids.referral}").status_code == 403
    assert admin.get(f"/escalations/{ids.escalation}").status_code == 403

    lead = env.client("lead")
    lead_token = csrf_from(lead)
    response = lead.post(f"/users/{ids.user}/deactivate", data={"csrf": lead_token})
    assert response.status_code == 403
    with env.sessions.begin() as session:
        assert session.get(UserRow, ids.user).active  # type: ignore[union-attr]
        assert session.get(RotaEntryRow, ids.rota_entry) is not None
        assert session.scalar(select(func.count()).select_from(NoteRow)) == 0


def test_unknown_ids_are_not_found(env: DashboardEnv) -> None:
    lead = env.client("lead")
    assert lead.get("/referrals/00000000-0000-0000-0000-000000000000").status_code == 404
    assert lead.get("/escalations/00000000-0000-0000-0000-000000000000").status_code == 404
    assert lead.get("/referrals/not-an-id").status_code == 404
    assert lead.get("/no/such/page").status_code == 404
    admin = env.client("admin")
    token = csrf_from(admin)
    assert admin.post("/users/999999/reset-password", data={"csrf": token}).status_code == 404


def test_forms_need_this_sessions_csrf_token(env: DashboardEnv) -> None:
    add_referral(env.sessions, env.cipher)
    worker = env.client("worker")
    other = env.client("other_worker")
    others_token = csrf_from(other)
    assert worker.post("/queue/claim-next").status_code == 403
    assert worker.post("/queue/claim-next", data={"csrf": "0" * 64}).status_code == 403
    assert worker.post("/queue/claim-next", data={"csrf": others_token}).status_code == 403
    token = csrf_from(worker)
    cross_site = worker.post(
        "/queue/claim-next", data={"csrf": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    with env.sessions.begin() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(ReferralRow).where(ReferralRow.status == "claimed")
            )
            == 0
        )
    same_site = worker.post(
        "/queue/claim-next", data={"csrf": token}, headers={"Origin": "http://testserver"}
    )
    assert same_site.status_code == 303
    assert same_site.headers["location"].startswith("/referrals/")


def sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    page = client.get("/login")
    found = CSRF.search(page.text)
    assert found
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf": found.group(1), "next": "/"},
    )


def test_signing_in_sets_a_hardened_cookie(env: DashboardEnv) -> None:
    client = env.client()
    response = sign_in(client, "wren.worker", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("yl_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # development over http
    assert client.get("/queue").status_code == 200


def test_secure_cookies_over_https(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    env = make_env(url, config=DashboardConfig(cookie_secure=True))
    try:
        client = env.client(base_url="https://testserver")
        response = sign_in(client, "wren.worker", PASSWORD)
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-yl_session=")
        )
        assert "Secure" in cookie and "HttpOnly" in cookie
        assert client.get("/queue").status_code == 200
    finally:
        env.engine.dispose()


def test_an_idle_session_ends(env: DashboardEnv) -> None:
    client = env.client("worker")
    assert client.get("/queue").status_code == 200
    env.clock.advance(minutes=29)
    assert client.get("/queue").status_code == 200
    env.clock.advance(minutes=29)  # active 29 minutes ago: still fine
    assert client.get("/queue").status_code == 200
    env.clock.advance(minutes=31)
    response = client.get("/queue")
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/queue")


def test_signing_out_ends_the_session(env: DashboardEnv) -> None:
    client = env.client("worker")
    cookie = client.cookies.get("yl_session")
    token = csrf_from(client)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    with env.sessions.begin() as session:
        assert session.scalars(select(StaffSessionRow)).all() == []
    replay = env.client()
    replay.cookies.set("yl_session", cookie or "")
    assert replay.get("/queue").status_code == 303


def test_deactivating_someone_signs_them_out_at_once(env: DashboardEnv) -> None:
    worker = env.client("worker")
    assert worker.get("/queue").status_code == 200
    admin = env.client("admin")
    token = csrf_from(admin)
    admin.post(f"/users/{env.crew.worker.id}/deactivate", data={"csrf": token})
    assert worker.get("/queue").status_code == 303


def test_failed_sign_ins_lock_the_account_with_one_message(env: DashboardEnv) -> None:
    client = env.client()
    for _ in range(5):
        response = sign_in(client, "wren.worker", "not the password at all")
        assert response.status_code == 401
        assert "After 5 failed tries" in response.text
    locked = sign_in(client, "wren.worker", PASSWORD)
    assert locked.status_code == 401
    unknown = sign_in(client, "nobody.here", PASSWORD)
    assert unknown.text.count("Those details did not work") == 1
    env.clock.advance(minutes=16)
    assert sign_in(client, "wren.worker", PASSWORD).status_code == 303


def test_sign_in_attempts_are_rate_limited_per_address(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    config = DashboardConfig(
        cookie_secure=False, login_rate=LoginRateLimit(attempts=3, window=timedelta(minutes=5))
    )
    env = make_env(url, config=config)
    try:
        client = env.client()
        names = ["wren.worker", "otto.worker", "lena.lead"]
        codes = [sign_in(client, n, "wrong wrong wrong").status_code for n in names]
        assert codes == [401, 401, 401]
        assert sign_in(client, "ada.admin", PASSWORD).status_code == 429
        env.clock.advance(minutes=6)
        assert sign_in(client, "ada.admin", PASSWORD).status_code == 303
    finally:
        env.engine.dispose()


def test_the_sign_in_form_needs_its_token(env: DashboardEnv) -> None:
    client = env.client()
    client.get("/login")
    response = client.post(
        "/login", data={"username": "wren.worker", "password": PASSWORD, "csrf": "forged"}
    )
    assert response.status_code == 403
    assert "yl_session" not in response.headers.get("set-cookie", "")


def test_a_one_time_password_must_be_replaced_first(env: DashboardEnv) -> None:
    with env.sessions.begin() as session:
        _, one_time = users.create_user(session, "fresh.start", "link_worker", actor="system")
    client = env.client()
    response = sign_in(client, "fresh.start", one_time)
    assert response.headers["location"] == "/account/password"
    assert client.get("/queue").headers["location"] == "/account/password"
    token = csrf_from(client)
    mismatch = client.post(
        "/account/password",
        data={
            "csrf": token,
            "current": one_time,
            "new": "a long new passphrase",
            "confirm": "a different passphrase",
        },
    )
    assert mismatch.status_code == 400
    changed = client.post(
        "/account/password",
        data={
            "csrf": token,
            "current": one_time,
            "new": "a long new passphrase",
            "confirm": "a long new passphrase",
        },
    )
    assert changed.status_code == 303
    assert client.get("/queue").status_code == 200


def test_next_only_goes_to_this_site(env: DashboardEnv) -> None:
    client = env.client()
    page = client.get("/login?next=//evil.example/steal")
    found = CSRF.search(page.text)
    assert found
    response = client.post(
        "/login",
        data={
            "username": "wren.worker",
            "password": PASSWORD,
            "csrf": found.group(1),
            "next": "//evil.example/steal",
        },
    )
    assert response.headers["location"] == "/queue"


def test_pages_carry_protective_headers(env: DashboardEnv) -> None:
    client = env.client("worker")
    for path in ("/login", "/queue"):
        headers = client.get(path).headers
        assert "default-src 'none'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


def test_navigation_shows_only_what_a_role_may_use(env: DashboardEnv) -> None:
    def links(who: str) -> set[str]:
        page = env.client(who).get("/account/password").text
        nav = page.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
        return set(re.findall(r'href="([^"]+)"', nav))

    assert links("worker") == {"/queue", "/caseload"}
    assert links("lead") == {"/queue", "/caseload", "/escalations", "/rules", "/caseloads"}
    assert links("admin") == {"/caseloads", "/users", "/rota", "/settings"}


def test_the_api_still_answers_beside_the_dashboard(env: DashboardEnv) -> None:
    client = env.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/referrals?conversation_id=x").status_code == 401
    token = env.settings.service_token
    ok = client.get(
        "/api/referrals?conversation_id=x", headers={"Authorization": f"Bearer {token}"}
    )
    assert (ok.status_code, ok.json()) == (200, [])
