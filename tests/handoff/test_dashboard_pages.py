"""Dashboard pages doing their work: referrals, escalations, exports, the rule check, users,
the rota and settings; decrypted views audited; nothing personal in logs or CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from handoff import audit, escalation_review, escalations, queue, rota
from handoff.conversation import read_gateway_conversation
from handoff.escalations import Escalation
from handoff.models import AuditRow, ReferralRow, RotaEntryRow
from handoff.queue import QueuePolicy
from handoff.validation import validate_referral
from tests.handoff.dashboard_support import (
    CSRF,
    PASSWORD,
    DashboardEnv,
    add_referral,
    csrf_from,
    dashboard_state,
    fake_rule_check,
    make_env,
    status_of,
)
from tests.handoff.store import escalate
from tests.support.db import sqlite_url_in
from tests.support.referrals import OWN_WORDS, TEST_PHONE
from youthlink.migrations import upgrade

EXCERPT = "nobody can know about the red door"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[DashboardEnv]:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    built = make_env(url, reader=read_gateway_conversation)
    yield built
    built.engine.dispose()


def actions(env: DashboardEnv, record_type: str, record_id: str) -> list[str]:
    with env.sessions.begin() as session:
        return [e.action for e in audit.events_for(session, record_type, record_id)]


def post(client: TestClient, path: str, **form: str) -> tuple[int, str]:
    """Post a form with the session's token; follow the redirect; the page's status and text."""
    response = client.post(path, data={**form, "csrf": csrf_from(client)})
    if response.status_code == 303:
        page = client.get(response.headers["location"])
        return page.status_code, page.text
    return response.status_code, response.text


def test_a_worker_claims_contacts_and_closes_a_case(env: DashboardEnv) -> None:
    referral_id = add_referral(env.sessions, env.cipher)
    worker = env.client("worker")
    queue_page = worker.get("/queue").text
    assert "1 referral" in queue_page
    assert OWN_WORDS not in queue_page  # the queue shows no personal data
    response = worker.post("/queue/claim-next", data={"csrf": csrf_from(worker)})
    assert response.headers["location"] == f"/referrals/{referral_id}"
    page = worker.get(f"/referrals/{referral_id}").text
    assert OWN_WORDS in page and "Jay" in page and "LS7" in page
    assert "Claimed: this case is yours now." in page

    status, page = post(worker, f"/referrals/{referral_id}/close", outcome="no_response")
    assert "record 3 contact attempts before closing as no response (0 so far)" in page
    for _ in range(3):
        post(
            worker,
            f"/referrals/{referral_id}/attempts",
            method="phone_call",
            result="no_answer",
            note="rang twice",
        )
    status, page = post(worker, f"/referrals/{referral_id}/notes", note="will try a text")
    assert page.count("rang twice") == 3 and "will try a text" in page
    status, page = post(worker, f"/referrals/{referral_id}/close", outcome="no_response")
    assert status == 200 and "Closed." in page
    row = status_of(env.sessions, referral_id)
    assert (row.status, row.outcome, row.owner_id) == ("closed", "no_response", env.crew.worker.id)
    assert actions(env, "referral", referral_id) == [
        "referral.claimed",
        "referral.viewed",
        "referral.viewed",
        "referral.contact_attempted",
        "referral.viewed",
        "referral.contact_attempted",
        "referral.viewed",
        "referral.contact_attempted",
        "referral.viewed",
        "referral.note_added",
        "referral.viewed",
        "referral.closed",
        "referral.viewed",
    ]


def test_claim_next_reports_a_full_caseload_and_an_empty_queue(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    from handoff.dashboard import DashboardConfig

    env = make_env(
        url, config=DashboardConfig(cookie_secure=False, queue=QueuePolicy(caseload_cap=1))
    )
    try:
        worker = env.client("worker")
        status, page = post(worker, "/queue/claim-next")
        assert status == 200 and "There is no referral waiting that you can claim." in page
        add_referral(env.sessions, env.cipher)
        add_referral(env.sessions, env.cipher)
        post(worker, "/queue/claim-next")
        _, page = post(worker, "/queue/claim-next")
        assert "already holds as many open cases as their cap allows" in page
        assert "You hold <strong>1</strong> of <strong>1</strong>" in page
    finally:
        env.engine.dispose()


def test_own_words_are_shown_as_text_never_as_markup(env: DashboardEnv) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    referral_id = add_referral(
        env.sessions, env.cipher, concerns=[{"category": "other_concern", "own_words": attack}]
    )
    page = env.client("worker").get(f"/referrals/{referral_id}").text
    assert attack not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_exports_are_audited_downloads(env: DashboardEnv) -> None:
    referral_id = add_referral(env.sessions, env.cipher)
    worker = env.client("worker")
    as_json = worker.get(f"/referrals/{referral_id}/export.json")
    assert as_json.headers["content-disposition"] == (
        f'attachment; filename="referral-{referral_id}.json"'
    )
    assert as_json.headers["cache-control"] == "no-store"
    record = as_json.json()
    validate_referral(record)
    assert record["concerns"][0]["own_words"] == OWN_WORDS
    as_text = worker.get(f"/referrals/{referral_id}/export.txt")
    assert as_text.headers["content-type"].startswith("text/plain")
    assert f"YouthLink self-referral {referral_id}" in as_text.text
    assert OWN_WORDS in as_text.text and "First contact due" in as_text.text
    with env.sessions.begin() as session:
        exports = [
            (e.action, dict(e.detail)) for e in audit.events_for(session, "referral", referral_id)
        ]
    assert exports == [
        ("referral.exported", {"format": "json"}),
        ("referral.exported", {"format": "text"}),
    ]


def test_the_contact_address_comes_from_the_gateway_into_the_page(env: DashboardEnv) -> None:
    contact = {"method": "sms", "address": TEST_PHONE, "safe_to_contact": True}
    referral_id = add_referral(env.sessions, env.cipher, contact=contact)
    page = env.client("worker").get(f"/referrals/{referral_id}").text
    assert TEST_PHONE in page
    assert "Opening this page is recorded in the audit log" in page


def escalation_for_page(env: DashboardEnv) -> Escalation:
    return escalate(env.sessions, env.cipher, conversation_id="c_lead", excerpt=EXCERPT)


def test_a_lead_opens_acknowledges_and_closes_an_escalation(env: DashboardEnv) -> None:
    escalation = escalation_for_page(env)
    lead = env.client("lead")
    log_page = lead.get("/escalations").text
    assert "<strong>1</strong> open" in log_page
    assert EXCERPT not in log_page  # excerpts only on the escalation's own page
    page = lead.get(f"/escalations/{escalation.escalation_id}").text
    assert EXCERPT in page and "self_harm.cutting" in page and "test-1" in page
    assert f'href="/referrals/{escalation.referral_id}"' in page
    _, page = post(lead, f"/escalations/{escalation.escalation_id}/acknowledge")
    assert "Acknowledged." in page and "by lena.lead" in page
    _, page = post(
        lead,
        f"/escalations/{escalation.escalation_id}/close",
        outcome="advice_given",
        action_taken="",
    )
    assert "say what action was taken" in page
    _, page = post(
        lead,
        f"/escalations/{escalation.escalation_id}/close",
        outcome="referred_to_social_care",
        action_taken="called the duty team, case opened",
    )
    assert "Closed." in page and "called the duty team, case opened" in page
    with env.sessions.begin() as session:
        stored = escalations.get_escalation(session, env.cipher, escalation.escalation_id)
    assert (stored.status, stored.outcome, stored.acknowledged_by) == (
        "closed",
        "referred_to_social_care",
        "lena.lead",
    )
    trail = actions(env, "escalation", escalation.escalation_id)
    assert trail.count("escalation.viewed") == 4
    assert "escalation.acknowledged" in trail and trail[-2] == "escalation.closed"


def test_the_escalation_log_filters(env: DashboardEnv) -> None:
    escalate(env.sessions, env.cipher, conversation_id="c_a", severity=5, categories=["suicide"])
    escalate(env.sessions, env.cipher, conversation_id="c_b", severity=4, categories=["abuse"])
    lead = env.client("lead")

    def count(query: str) -> str:
        found = re.search(r"<caption>(\d+) escalation", lead.get(f"/escalations?{query}").text)
        assert found, query
        return found.group(1)

    assert count("") == "2"
    assert count("severity=5") == "1"
    assert count("category=abuse") == "1"
    assert count("status=closed") == "0"
    assert count("from=2000-01-01&to=2000-01-02") == "0"


def test_the_csv_export_has_no_excerpts_or_action_text(env: DashboardEnv) -> None:
    escalation = escalation_for_page(env)
    with env.sessions.begin() as session:
        escalations.close(
            session,
            env.cipher,
            escalation.escalation_id,
            by="lena.lead",
            outcome="advice_given",
            action_taken="spoke to mum at 07700 900 982",
        )
    lead = env.client("lead")
    day = escalation.created_at.date().isoformat()
    response = lead.get(f"/escalations/export.csv?from={day}&to={day}")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["escalation_id"] for r in rows] == [escalation.escalation_id]
    assert rows[0]["outcome"] == "advice_given" and rows[0]["rule_ids"] == "self_harm.cutting"
    assert "red door" not in response.text and "07700" not in response.text
    assert "c_lead" not in response.text  # no conversation ids either
    with env.sessions.begin() as session:
        (exported,) = [e for e in audit.recent(session) if e.action == "escalation.exported"]
    assert exported.detail["rows"] == 1
    empty = lead.get("/escalations/export.csv?from=2030-01-02&to=2030-01-01")
    assert empty.status_code == 303  # end before start: back to the log with a message


@pytest.mark.unit
def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    from datetime import UTC, datetime

    hostile = Escalation(
        escalation_id="e1",
        conversation_id="c",
        referral_id=None,
        channel="sms",
        severity=4,
        categories=("abuse",),
        rule_ids=('=HYPERLINK("http://x")',),
        ruleset_version="+1",
        created_at=datetime(2025, 12, 1, tzinfo=UTC),
        status="open",
    )
    text = escalation_review.csv_rows([hostile])
    row = next(iter(csv.DictReader(io.StringIO(text))))
    assert row["rule_ids"].startswith("'=") and row["ruleset_version"] == "'+1"


def add_conversation(env: DashboardEnv, escalation_id: str) -> None:
    """Messages in the gateway's tables around an escalation (as the gateway stores them)."""
    tables = pytest.importorskip("channels.tables")
    now = env.clock.now
    with env.sessions.begin() as session:
        session.add(
            tables.ConversationRow(
                conversation_id="c_lead",
                channel="sms",
                address_hash="h" * 64,
                address_encrypted=env.cipher.encrypt(TEST_PHONE),
                created_at=now,
                last_seen_at=now,
                opted_out=False,
                paused=False,
                offered_buttons="[]",
            )
        )
        texts = ["hi", "school is rubbish", EXCERPT, "please dont tell anyone", "ok", "bye"]
        for n, text in enumerate(texts):
            inbox = tables.InboxRow(
                conversation_id="c_lead",
                channel="sms",
                provider_message_id=f"SM{n}",
                text_encrypted=env.cipher.encrypt(text),
                received_at=now + timedelta(minutes=n),
                status="done",
                attempts=1,
                next_attempt_at=now,
                screened=True,
                escalated=text == EXCERPT,
                escalation_id=escalation_id if text == EXCERPT else None,
            )
            session.add(inbox)
            session.flush()
            reply = "Thank you for telling me." if text == EXCERPT else f"reply {n}"
            session.add(
                tables.OutboxRow(
                    conversation_id="c_lead",
                    channel="sms",
                    kind="reply",
                    status="sent",
                    body_encrypted=env.cipher.encrypt(json.dumps({"Body": reply})),
                    attempts=1,
                    next_attempt_at=now,
                    created_at=now + timedelta(minutes=n, seconds=5),
                    in_reply_to=inbox.id,
                )
            )


def test_the_conversation_around_an_escalation(env: DashboardEnv) -> None:
    escalation = escalation_for_page(env)
    add_conversation(env, escalation.escalation_id)
    page = env.client("lead").get(f"/escalations/{escalation.escalation_id}").text
    shown = re.findall(r'<span class="turn__text">([^<]*)</span>', page)
    # Three of the young person's messages either side, with the replies in between.
    assert shown[:3] == ["hi", "reply 0", "school is rubbish"]
    assert EXCERPT in shown and "Thank you for telling me." in shown
    assert shown[-1] == "reply 5"
    assert "(triggered the escalation)" in page
    with env.sessions.begin() as session:
        (viewed,) = audit.events_for(session, "escalation", escalation.escalation_id)
    assert viewed.detail == {"context_turns": 12}


def test_without_the_gateway_the_conversation_is_marked_not_available(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    env = make_env(url, reader=None)
    try:
        escalation = escalation_for_page(env)
        page = env.client("lead").get(f"/escalations/{escalation.escalation_id}").text
        assert "The conversation is not available here" in page
        assert EXCERPT in page
    finally:
        env.engine.dispose()


def test_the_rule_check_page_runs_the_check(tmp_path: Path) -> None:
    url = sqlite_url_in(tmp_path)
    upgrade(url)
    env = make_env(
        url,
        rule_check=fake_rule_check(
            passed=False, output="rule suicide.plan: example 3 did not match"
        ),
    )
    try:
        lead = env.client("lead")
        page = lead.get("/rules").text
        assert "Failed" in page and "exit status 1" in page
        assert "example 3 did not match" in page
        dashboard_state(env.app).rule_check = fake_rule_check(passed=True)
        _, page = post(lead, "/rules/run")
        assert "Passed." in page and "314 examples: all passed" in page
    finally:
        env.engine.dispose()


def test_the_real_rule_check_runs_in_process_and_as_a_command() -> None:
    pytest.importorskip("safeguarding_rules.check")
    from handoff.dashboard.rulecheck import in_process_rule_check, subprocess_rule_check

    in_process = in_process_rule_check()
    assert in_process is not None
    here, there = in_process(), subprocess_rule_check()()
    assert here.output.startswith("Safeguarding rules check")
    assert there.output.startswith("Safeguarding rules check")
    # Same check, same verdict, same rule-set version either way.
    assert here.passed == there.passed
    version = re.search(r"\(version (\w+)\)", here.output)
    assert version and version.group(0) in there.output


def test_an_admin_adds_a_user_who_then_signs_in(env: DashboardEnv) -> None:
    admin = env.client("admin")
    response = admin.post(
        "/users", data={"username": "nia.new", "role": "link_worker", "csrf": csrf_from(admin)}
    )
    assert response.status_code == 200
    found = re.search(r'<code id="one-time-password">([^<]+)</code>', response.text)
    assert found
    assert "nia.new" in admin.get("/users").text
    assert found.group(1) not in admin.get("/users").text  # shown once only
    newcomer = env.client()
    login = newcomer.get("/login")
    token = CSRF.search(login.text)
    assert token
    signed = newcomer.post(
        "/login", data={"username": "nia.new", "password": found.group(1), "csrf": token.group(1)}
    )
    assert signed.headers["location"] == "/account/password"
    _, page = post(admin, "/users", username="nia.new", role="admin")
    assert "that username is taken" in page


def test_an_admin_keeps_the_rota(env: DashboardEnv) -> None:
    second = env.crew.lead
    from tests.handoff.dashboard_support import make_user

    first = make_user(env.sessions, "fay.lead", "safeguarding_lead")
    admin = env.client("admin")
    post(admin, "/rota", lead=str(second.id), phone="07700 900461", telegram_chat="")
    post(admin, "/rota", lead=str(first.id), phone="", telegram_chat="987654321")
    status, page = post(admin, "/rota", lead=str(env.crew.worker.id), phone="07700900111")
    assert status == 200 and "only an active safeguarding lead can be on the rota" in page
    _, page = post(admin, "/rota", lead=str(first.id), phone="12345", telegram_chat="")
    assert "a phone number must be" in page
    assert "900461" not in page and "900 461" not in page
    assert rota.mask("+447700900461") in page  # masked
    with env.sessions.begin() as session:
        raw = [r.phone_encrypted for r in session.scalars(select(RotaEntryRow))]
        assert all(b"7700" not in bytes(token or b"") for token in raw)
        on_call = rota.on_call(session, env.cipher)
    assert [(e.username, e.phone, e.telegram_chat) for e in on_call] == [
        ("lena.lead", "+447700900461", None),
        ("fay.lead", None, "987654321"),
    ]
    second_entry = on_call[1].id
    post(admin, f"/rota/{second_entry}/up")
    post(admin, f"/rota/{on_call[0].id}/pause")
    with env.sessions.begin() as session:
        assert [e.username for e in rota.on_call(session, env.cipher)] == ["fay.lead"]
        trail = [e.action for e in audit.recent(session) if e.record_type.startswith("rota")]
    assert {"rota.entry_added", "rota.moved_up", "rota.entry_paused", "rota.viewed"} <= set(trail)


def test_settings_show_the_targets_in_force(env: DashboardEnv) -> None:
    page = env.client("admin").get("/settings").text
    assert "First contact, urgent</dt><dd>4 working hours" in page
    assert "First contact, priority</dt><dd>16 working hours" in page
    assert "First contact, routine</dt><dd>40 working hours" in page
    assert "Mon–Fri 09:00–17:00, Europe/London" in page


def test_caseloads_show_each_worker_and_what_is_overdue(env: DashboardEnv) -> None:
    for _ in range(2):
        add_referral(env.sessions, env.cipher, created_at=env.clock.now - timedelta(days=14))
    with env.sessions.begin() as session:
        queue.claim_next(session, env.cipher, env.crew.staff("worker"), QueuePolicy())
    page = env.client("lead").get("/caseloads").text
    row = page.split('<td data-label="Worker">wren.worker</td>', 1)[1].split("</tr>", 1)[0]
    assert '<td data-label="Claimed">1</td>' in row
    assert '<span class="badge badge--overdue">1</span>' in row
    assert "<strong>2</strong> in all" in page
    admin_page = env.client("admin").get("/caseloads").text
    assert "/referrals/" not in admin_page  # admins see counts, not links into cases


def test_the_queue_flags_overdue_and_pages(env: DashboardEnv) -> None:
    for n in range(30):
        add_referral(
            env.sessions, env.cipher, created_at=env.clock.now - timedelta(days=30, minutes=n)
        )
    worker = env.client("worker")
    page = worker.get("/queue").text
    assert "30 past the first-contact target" in page
    assert page.count('class="badge badge--overdue">Overdue') == 25
    assert 'rel="next"' in page and "Page 1 of 2" in page
    second = worker.get("/queue?page=2").text
    assert second.count('badge--overdue">Overdue') == 5


def test_no_personal_data_reaches_the_logs(
    env: DashboardEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    contact = {"method": "sms", "address": TEST_PHONE, "safe_to_contact": True}
    referral_id = add_referral(env.sessions, env.cipher, contact=contact)
    escalation = escalation_for_page(env)
    worker, lead = env.client("worker"), env.client("lead")
    worker.get(f"/referrals/{referral_id}")
    post(worker, f"/referrals/{referral_id}/claim")
    post(worker, f"/referrals/{referral_id}/notes", note="his sister Kayleigh answered")
    worker.get(f"/referrals/{referral_id}/export.txt")
    lead.get(f"/escalations/{escalation.escalation_id}")
    post(
        lead,
        f"/escalations/{escalation.escalation_id}/close",
        outcome="advice_given",
        action_taken="rang Kayleigh",
    )
    env.client().post("/login", data={"username": "wren.worker", "password": "typo " + PASSWORD})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (OWN_WORDS, TEST_PHONE, "Kayleigh", EXCERPT, "Jay", PASSWORD):
        assert secret not in logged
    with env.sessions.begin() as session:
        rows = "\n".join(
            json.dumps([r.actor, r.action, r.record_id, r.detail])
            for r in session.scalars(select(AuditRow))
        )
    for secret in (OWN_WORDS, TEST_PHONE, "Kayleigh", EXCERPT, "wren.worker"):
        assert secret not in rows


def test_a_withdrawn_case_leaves_my_caseload(env: DashboardEnv) -> None:
    referral_id = add_referral(env.sessions, env.cipher)
    worker = env.client("worker")
    post(worker, f"/referrals/{referral_id}/claim")
    assert referral_id in worker.get("/caseload").text
    _, page = post(worker, f"/referrals/{referral_id}/withdraw")
    assert "Withdrawn." in page
    assert referral_id not in worker.get("/caseload").text
    with env.sessions.begin() as session:
        assert session.get(ReferralRow, referral_id).status == "withdrawn"  # type: ignore[union-attr]
