"""The dashboard pages through FastAPI's TestClient: roles, CSRF, escaping, masking.

One SQLite database per test holds the campaign ``drive``: version 1 approved and
planned to three residents, two of whose rows failed (one with a provider detail that
carries a script and a phone number), and version 2 (a title and owner with a script)
stored and awaiting approval.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from dispatcher import registry
from dispatcher.accounts.users import ROLES, User, add_user
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.files.csvfile import spreadsheet_safe
from dispatcher.storage.db import make_engine
from dispatcher.storage.tables import (
    audit_log,
    campaign_versions,
    deliveries,
    refused_reports,
    runs,
)
from dispatcher.testing import plan_campaign, sms_campaign_text, store_campaign
from dispatcher.venues.cinemas import import_auditoriums, import_cinemas, import_showtimes
from dispatcher.venues.refused_reports import Refusal, record_refusals
from dispatcher.venues.screens import add_group, import_screens
from dispatcher.web.app import create_app
from dispatcher.web.pages import logs as pages_logs
from dispatcher.web.pages.common import safe_next, shown_target

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PASSWORD = "correct horse battery"
PHONES = ("+8613800000001", "+8613800000002", "+8613800000003")
CONTACTS = "phone,area,district\n13800000001,,\n13800000002,,\n13800000003,,\n"
# One user per role, named after it: "planner", "approver", "operator", "admin".
USERS = {role: role for role in ROLES}


def campaign_text(title: str = "Drive", owner: str = "Publicity",
                  body: str = "Report gang crime: call 110.") -> str:
    return sms_campaign_text(title=title, owner=owner, body=body)


def seed(engine: Engine) -> None:
    """The database described in the module docstring, and a user per role."""
    import_contacts(engine, io.StringIO(CONTACTS), "residents", "CN")
    plan_campaign(engine, campaign_text())
    with engine.begin() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.target))
                   .scalars())
        advance(conn, [Transition("failed", delivery_id=ids[0], code="30003",
                                  detail=f"{SCRIPT} unreachable: {PHONES[0]}"),
                       Transition("failed", delivery_id=ids[1], code="30003",
                                  detail="unreachable")], actor="engine")
    store_campaign(engine, campaign_text(title=SCRIPT, owner=SCRIPT, body="Call 110."),
                   approve_as=None)
    for role, name in USERS.items():
        add_user(engine, name, role, PASSWORD)


class VenueNames(NamedTuple):
    """The words of :func:`add_venues`' venues; ``hall`` formats a hall's number."""

    screen: str
    counted_by: str
    tag: str
    group: str
    cinema: str
    hall: str
    film: str
    rating: str


ENGLISH_VENUES = VenueNames("Tower A lobby", "lobby count", "lobby", "lobbies", "Grand",
                            "Hall {}", "Film A", "PG")


def add_venues(engine: Engine, names: VenueNames) -> None:
    """Screen B-001 (1080x1920) in a group by its tag; cinema C01 with halls 1 (100 seats)
    and 2 (50 seats) and screening S1 in hall 1 on 4 March 2030 at 19:30 Shanghai."""
    import_screens(engine, io.StringIO(
        "id,name,kind,district,area,resolution,audience_per_play,audience_source,"
        "controller,endpoint,tags\n"
        f"B-001,{names.screen},building,丈八街道,work,1080x1920,10,{names.counted_by},pull,,"
        f"{names.tag}\n"), "Asia/Shanghai")
    add_group(engine, names.group, f"tag={names.tag}")
    import_cinemas(engine, io.StringIO("id,name,district,system,preshow\n"
                                       f"C01,{names.cinema},丈八街道,cms,ads:60\n"),
                   "Asia/Shanghai")
    hall = names.hall.format
    import_auditoriums(engine, io.StringIO(f"cinema,id,name,seats\nC01,1,{hall(1)},100\n"
                                           f"C01,2,{hall(2)},50\n"))
    import_showtimes(engine, io.StringIO(
        "id,cinema,auditorium,film,rating,start,expected_seats,status\n"
        f"S1,C01,1,{names.film},{names.rating},2030-03-04T19:30:00+08:00,80,scheduled\n"))


def make_app_engine(url: str) -> Engine:
    engine = make_engine(url)
    seed(engine)
    return engine


def app_for(engine: Engine, language: str | None = "en",
            web: dict[str, str] | None = None) -> TestClient:
    """A browser of the dashboard sending ``Accept-Language: language`` (none if None):
    these tests read English, tests/i18n/test_language.py the other languages."""
    config = parse_config({"web": {"public_url": "http://testserver", **(web or {})}})
    app = create_app(engine, config, registry.build_channels({}))
    headers = {"Accept-Language": language} if language is not None else None
    return TestClient(app, follow_redirects=False, headers=headers)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": PASSWORD,
                                           "csrf": token, "next": "/campaigns"})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/campaigns").text)


@pytest.fixture
def engine(sqlite_engine: Engine) -> Engine:
    """SQLite only, seeded as the module docstring says."""
    seed(sqlite_engine)
    return sqlite_engine


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with app_for(engine) as test_client:
        yield test_client


def run_status(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(runs.c.status)).scalar_one())


def approved_by(engine: Engine, version: int) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(select(campaign_versions.c.approved_by).where(
            campaign_versions.c.version == version)).scalar_one()
    return None if found is None else str(found)


def audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(audit_log.c.id)).all())


# Signing in -------------------------------------------------------------------------


def test_pages_redirect_to_login_keeping_the_page_and_filters(client: TestClient) -> None:
    assert client.get("/").headers["location"] == "/campaigns"
    response = client.get("/campaigns/drive")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/campaigns/drive"
    response = client.get("/logs?status=failed&channel=sms")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/logs%3Fstatus%3Dfailed%26channel%3Dsms"
    assert client.get("/logs.csv").status_code == 303


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    for bad in ("//evil.example", "https://evil.example/x", "", "evil"):
        assert safe_next(bad) == "/campaigns"
    assert safe_next("/logs?status=failed") == "/logs?status=failed"
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": "planner", "password": PASSWORD,
                                           "csrf": token, "next": "//evil.example"})
    assert response.status_code == 303
    assert response.headers["location"] == "/campaigns"


# Roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_every_page(client: TestClient, role: str) -> None:
    sign_in(client, USERS[role])
    for path in ("/campaigns", "/campaigns/drive", "/logs", "/logs?status=failed",
                 "/screens", "/cinemas"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        assert f"{role} ({role})" in response.text  # the signed-in user in the header


@pytest.mark.parametrize("action", ["approve", "pause", "resume", "cancel", "retry"])
def test_planner_may_do_nothing(client: TestClient, engine: Engine, action: str) -> None:
    token = sign_in(client, "planner")
    before = audit_count(engine)
    response = client.post(f"/campaigns/drive/{action}", data={"csrf": token, "version": "2"})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    needed = "approver or admin" if action == "approve" else "operator or admin"
    assert f"needs the {needed} role" in response.text
    assert "you are signed in as planner (planner)" in response.text
    assert (audit_count(engine), approved_by(engine, 2), run_status(engine)) == (
        before, None, "planned")


def test_planner_sees_no_action_buttons(client: TestClient) -> None:
    sign_in(client, "planner")
    page = client.get("/campaigns/drive").text
    assert "/campaigns/drive/approve" not in page
    assert "/campaigns/drive/pause" not in page


def test_approver_approves_the_version_seen_and_the_audit_names_them(
        client: TestClient, engine: Engine) -> None:
    token = sign_in(client, "approver")
    page = client.get("/campaigns/drive").text
    assert 'action="/campaigns/drive/approve"' in page
    assert "/campaigns/drive/pause" not in page
    response = client.post("/campaigns/drive/approve", data={"csrf": token, "version": "2"})
    assert response.status_code == 303
    assert response.headers["location"] == "/campaigns/drive"
    assert approved_by(engine, 2) == "approver"
    page = client.get("/campaigns/drive").text
    assert "Version 2 approved by approver." in page
    assert "/campaigns/drive/approve" not in page  # nothing left to approve
    assert "Version 2 approved by" not in client.get("/campaigns/drive").text  # shown once
    assert lifecycle.history(engine, "drive")[-1] | {"at": None} == {
        "at": None, "actor": "approver", "action": "approve", "version": 2, "detail": None}
    assert client.post("/campaigns/drive/pause", data={"csrf": token}).status_code == 403


def test_operator_pauses_resumes_retries_and_cancels(client: TestClient,
                                                     engine: Engine) -> None:
    token = sign_in(client, "operator")
    page = client.get("/campaigns/drive").text
    assert "/campaigns/drive/approve" not in page

    def act(action: str, **form: str) -> str:
        response = client.post(f"/campaigns/drive/{action}", data={"csrf": token, **form})
        assert response.status_code == 303, response.text
        return str(client.get("/campaigns/drive").text)

    assert "Paused run(s) 1." in act("pause") and run_status(engine) == "paused"
    assert "Resumed run(s) 1." in act("resume") and run_status(engine) == "planned"
    assert "Requeued 2 failed row(s)." in act("retry")
    assert "Cancelled run(s) 1: 3 row(s) not yet sent" in act(
        "cancel", confirm="1", reason="The venue closed.")  # asked first, with a reason
    assert run_status(engine) == "cancelled"
    actions = [(e["actor"], e["action"]) for e in lifecycle.history(engine, "drive")][-4:]
    assert actions == [("operator", a) for a in ("pause", "resume", "retry", "cancel")]
    response = client.post("/campaigns/drive/approve", data={"csrf": token, "version": "2"})
    assert response.status_code == 403
    assert approved_by(engine, 2) is None


def test_admin_may_approve_and_operate(client: TestClient, engine: Engine) -> None:
    token = sign_in(client, "admin")
    assert client.post("/campaigns/drive/approve",
                       data={"csrf": token, "version": "2"}).status_code == 303
    assert client.post("/campaigns/drive/pause", data={"csrf": token}).status_code == 303
    assert (approved_by(engine, 2), run_status(engine)) == ("admin", "paused")


def test_a_core_error_is_a_409_page_not_a_500(client: TestClient, engine: Engine) -> None:
    token = sign_in(client, "operator")
    response = client.post("/campaigns/drive/resume", data={"csrf": token})
    assert response.status_code == 409
    assert "has no run to resume" in response.text
    assert 'id="status"' in response.text  # the campaign page, with the error on it
    assert client.get("/campaigns/nope").status_code == 404
    response = client.post("/campaigns/nope/pause", data={"csrf": token})
    assert response.status_code == 404 and "no campaign &#39;nope&#39;" in response.text
    assert client.post("/campaigns/drive/explode", data={"csrf": token}).status_code == 404


# CSRF -------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [None, "", "wrong-token"])
@pytest.mark.parametrize("action", ["approve", "pause", "retry"])
def test_a_post_without_the_session_csrf_changes_nothing(
        client: TestClient, engine: Engine, sent: str | None, action: str) -> None:
    sign_in(client, "admin")
    before = audit_count(engine)
    data = {"version": "2"} if sent is None else {"csrf": sent, "version": "2"}
    response = client.post(f"/campaigns/drive/{action}", data=data)
    assert response.status_code == 403
    assert "reload the page and try again" in response.text  # the form, not the role
    assert (audit_count(engine), approved_by(engine, 2), run_status(engine)) == (
        before, None, "planned")


def test_another_sessions_csrf_is_refused(client: TestClient, engine: Engine) -> None:
    with app_for(engine) as other:
        stolen = sign_in(other, "admin")
    sign_in(client, "admin")
    response = client.post("/campaigns/drive/approve", data={"csrf": stolen, "version": "2"})
    assert response.status_code == 403
    assert approved_by(engine, 2) is None


# Escaping and masking ---------------------------------------------------------------


def test_user_text_is_escaped_everywhere(client: TestClient) -> None:
    sign_in(client, "admin")
    for path in ("/campaigns", "/campaigns/drive", "/logs"):
        page = client.get(path).text
        assert SCRIPT not in page, path
        assert ESCAPED in page, path


@pytest.mark.parametrize(("role", "unmasked"), [("planner", False), ("approver", False),
                                                ("operator", True), ("admin", True)])
def test_numbers_are_masked_unless_the_role_may_unmask(client: TestClient, role: str,
                                                       unmasked: bool) -> None:
    sign_in(client, role)
    page = client.get("/logs").text
    exported = client.get("/logs.csv").text
    for shown in (page, exported):
        assert (PHONES[0] in shown) is unmasked
        assert ("+86 138****0001" in shown) is not unmasked
        assert ("+86 138****0003" in shown) is not unmasked


def test_group_addresses_are_no_ones_number() -> None:
    planner = User("planner", "planner")
    assert shown_target("all@0", planner) == "all@0"
    assert shown_target("screen:B-001@0", planner) == "screen:B-001@0"
    assert shown_target(PHONES[0], planner) == "+86 138****0001"
    assert shown_target(PHONES[0], User("operator", "operator")) == PHONES[0]


# The log ----------------------------------------------------------------------------


def test_log_filters_as_the_cli_does(client: TestClient) -> None:
    sign_in(client, "operator")
    page = client.get("/logs?status=failed").text
    assert page.count('class="state">failed<') == 2
    assert 'class="state">planned<' not in page
    page = client.get("/logs", params={"target": "138 0000 0003"}).text
    assert page.count('class="target">') == 1 and PHONES[2] in page
    assert client.get("/logs?campaign=other").text.count('class="target">') == 0
    assert client.get("/logs?since=2999-01-01").text.count('class="target">') == 0
    assert client.get("/logs?until=2999-01-01").text.count('class="target">') == 3
    response = client.get("/logs?status=lost")
    assert response.status_code == 400 and "is not a delivery state" in response.text
    response = client.get("/logs?since=yesterday")
    assert response.status_code == 400 and "is not an ISO 8601 date" in response.text
    assert client.get("/logs?cursor=%25%25").status_code == 400
    assert client.get("/logs.csv?status=lost").status_code == 400


def test_log_pages_follow_the_cursor(client: TestClient, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    monkeypatch.setattr(pages_logs, "PAGE_SIZE", 2)
    sign_in(client, "operator")
    seen: list[str] = []
    link: str | None = "/logs?campaign=drive"
    while link:
        page = client.get(link).text
        seen += re.findall(r'class="target">([^<]+)<', page)
        found = re.search(r'<a href="([^"]+)" rel="next">Next page', page)
        link = found.group(1).replace("&amp;", "&") if found else None
        assert link is None or "campaign=drive" in link
    assert sorted(seen) == sorted(PHONES)


def test_log_csv_streams_the_filtered_rows(client: TestClient) -> None:
    sign_in(client, "operator")
    response = client.get("/logs.csv?status=failed")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    state = rows[0].index("State")  # the people's export: headers in the page's language
    assert [row[state] for row in rows[1:]] == ["failed", "failed"]


def test_csv_cells_never_run_as_formulas() -> None:
    # the guard of every CSV export; tests/files/test_export_safety.py tries it whole
    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("+SUM(A1)") == "'+SUM(A1)"
    assert spreadsheet_safe("+8613800000001") == "'+8613800000001"  # text, not 8.6E+12
    assert spreadsheet_safe("+86 138****0001") == "'+86 138****0001"


# The campaign page ------------------------------------------------------------------


def test_campaign_page_shows_versions_runs_reach_and_failures(client: TestClient) -> None:
    sign_in(client, "planner")
    page = client.get("/campaigns/drive").text
    assert "awaiting approval" in page and 'class="status status-draft"' in page
    assert "not approved" in page  # version 2
    assert "<svg" in page and "failed: 2" in page  # the state chart's bar titles
    assert "message_times" in page
    failures = page.split('id="failures"')[1].split("</table>")[0]
    assert "30003" in failures and ">2<" in failures
    assert "/logs?campaign=drive&amp;channel=sms&amp;status=failed" in failures
    listing = client.get("/campaigns").text
    assert 'href="/campaigns/drive"' in listing and "draft" in listing
    assert "Asia/Shanghai" in listing


def test_screens_and_cinemas(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    add_venues(engine, ENGLISH_VENUES)
    sign_in(client, "planner")
    screens = client.get("/screens").text
    assert "Tower A lobby" in screens and "1080x1920" in screens and "lobbies" in screens
    cinemas = client.get("/cinemas").text
    assert "Hall 1 (100), Hall 2 (50)" in cinemas
    assert '<td class="num">150</td><td class="num">1</td>' in cinemas


def test_refused_reports_show_local_times_and_escape_the_venues_text(
        client: TestClient, engine: Engine) -> None:
    import_screens(engine, io.StringIO(
        "id,name,kind,resolution,audience_per_play,audience_source,controller,formats\n"
        f"B-001,{SCRIPT},building,1080x1920,10,count,pull,jpg;{SCRIPT}\n"), "Asia/Shanghai")
    with engine.begin() as conn:
        record_refusals(conn, [Refusal("led", SCRIPT, "above_schedule", SCRIPT, None)])
        conn.execute(update(refused_reports).values(
            received_at=datetime(2026, 1, 1, 1, 2, 3)))  # UTC, as the database keeps it
    sign_in(client, "planner")
    page = client.get("/screens").text
    assert SCRIPT not in page and page.count(ESCAPED) == 4  # name, format, venue, detail
    refused = page.split("Refused reports")[1]
    assert "Times in Asia/Shanghai" in refused and "2026-01-01 09:02:03" in refused
    assert "UTC" not in page and "above_schedule" in refused


def test_failed_sign_ins_are_limited(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)

    def attempt(password: str) -> int:
        return client.post("/login", data={"name": "operator", "password": password,
                                           "csrf": token, "next": "/campaigns"}).status_code

    assert [attempt("wrong password!") for _ in range(5)] == [401] * 5
    assert attempt(PASSWORD) == 429  # locked, even with the right password
    assert "Too many failed sign-ins" in client.post("/login", data={
        "name": "operator", "password": PASSWORD, "csrf": token}).text


def test_the_login_form_needs_its_csrf_token(client: TestClient) -> None:
    client.get("/login")
    refused = client.post("/login", data={"name": "operator", "password": PASSWORD,
                                          "csrf": "forged", "next": "/campaigns"})
    assert refused.status_code == 403
