"""The REST API: API tokens, what each role may do, masking, the log's cursor, audit."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from dispatcher import registry
from dispatcher.accounts.users import add_user, create_token, disable_user, revoke_tokens
from dispatcher.approval import lifecycle
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.delivery.transitions import Transition, advance
from dispatcher.storage.tables import deliveries
from dispatcher.testing import plan_campaign, sms_campaign_text, store_campaign
from dispatcher.web.app import create_app

CAMPAIGN = sms_campaign_text(title="Drive <script>alert(1)</script>",
                             body="Report crime: call 110.")
PHONES = "phone,area,district\n13800000001,,\n13800000002,,\n13800000003,,\n"


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def get(self, path: str, role: str | None = "planner", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return self.client.get(path, headers=headers, params=params)

    def post(self, path: str, role: str) -> httpx.Response:
        return self.client.post(path, headers={"Authorization": f"Bearer {self.tokens[role]}"})


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    import_contacts(engine, io.StringIO(PHONES), "residents", "CN")
    result = plan_campaign(engine, CAMPAIGN)
    with engine.begin() as conn:
        first = conn.execute(select(func.min(deliveries.c.id))).scalar_one()
        advance(conn, [Transition("sending", first), Transition("failed", first, code="30003",
                                                                 detail="<b>unreachable</b>")],
                actor="engine")
    assert result.rows["planned"] == 3
    tokens = {}
    for role in ("planner", "approver", "operator", "admin"):
        add_user(engine, role, role, "a-long-password")
        tokens[role] = create_token(engine, role, "tests")
    config = parse_config({})
    app = create_app(engine, config, registry.build_channels(config.channels))
    with TestClient(app) as client:
        yield Api(client, tokens)


def test_tokens_are_required(api: Api) -> None:
    assert api.get("/api/campaigns", role=None).status_code == 401
    bad = api.client.get("/api/campaigns", headers={"Authorization": "Bearer dsp_nope"})
    assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
    # A signed-in browser session is no API credential: the API takes no cookies.
    assert api.client.get("/api/campaigns").status_code == 401


def test_revoked_tokens_and_disabled_users_answer_401_at_once(api: Api,
                                                              engine: Engine) -> None:
    spare = create_token(engine, "planner", "spare")
    revoke_tokens(engine, "planner", "tests", by="chief")
    refused = api.get("/api/campaigns", role="planner")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    spare_answer = api.client.get("/api/campaigns", headers={"Authorization": f"Bearer {spare}"})
    assert spare_answer.status_code == 200
    disable_user(engine, "operator", by="chief")
    assert api.post("/api/campaigns/drive/pause", role="operator").status_code == 401
    assert api.get("/api/campaigns", role="operator").status_code == 401
    assert api.get("/api/campaigns", role="approver").status_code == 200


def test_reading_campaigns_runs_reach(api: Api) -> None:
    [summary] = api.get("/api/campaigns").json()
    assert summary["id"] == "drive" and summary["runs"] == 1
    detail = api.get("/api/campaigns/drive").json()
    assert detail["versions"][0]["approved_by"] == "approver"
    assert detail["definition"]["placements"][0]["channel"] == "sms"
    assert api.get("/api/campaigns/nope").status_code == 404
    reach = api.get("/api/campaigns/drive/reach").json()
    assert reach["channels"]["sms"]["failed"] == 1 and reach["channels"]["sms"]["targets"] == 3


def test_numbers_are_masked_for_roles_that_may_not_see_them(api: Api) -> None:
    def targets(role: str) -> list[str]:
        body = api.get("/api/deliveries", role=role).json()
        return sorted(d["target"] for d in body["deliveries"])

    assert targets("planner") == targets("approver") == [
        "+86 138****0001", "+86 138****0002", "+86 138****0003"]
    assert targets("operator") == targets("admin") == [
        "+8613800000001", "+8613800000002", "+8613800000003"]


def test_the_log_pages_with_a_cursor_and_filters(api: Api) -> None:
    first = api.get("/api/deliveries", limit=2).json()
    second = api.get("/api/deliveries", limit=2,
                     cursor=first["next_cursor"]).json()
    ids = [d["id"] for d in first["deliveries"] + second["deliveries"]]
    assert len(set(ids)) == 3 and second["next_cursor"] is None
    failed = api.get("/api/deliveries", status="failed").json()
    assert [(d["error_code"], d["detail"]) for d in failed["deliveries"]] == [
        ("30003", "<b>unreachable</b>")]
    assert api.get("/api/deliveries", status="lost").status_code == 400
    assert api.get("/api/deliveries", cursor="%%%").status_code == 400


@pytest.mark.parametrize(("action", "allowed"), [
    ("approve", {"approver", "admin"}),
    ("pause", {"operator", "admin"}),
    ("retry", {"operator", "admin"}),
])
def test_each_role_may_do_exactly_its_actions(api: Api, action: str, allowed: set[str]) -> None:
    for role in ("planner", "approver", "operator", "admin"):
        answer = api.post(f"/api/campaigns/drive/{action}", role)
        if role in allowed:
            assert answer.status_code in (200, 409), (role, answer.text)
        else:
            assert answer.status_code == 403, (role, action)


def test_actions_are_audited_under_the_token_user(api: Api, engine: Engine) -> None:
    store_campaign(engine, CAMPAIGN.replace("call 110.", "call 110 now."), approve_as=None)
    approved = api.post("/api/campaigns/drive/approve", "approver").json()
    assert approved["detail"] == "version 2 approved"
    paused = api.post("/api/campaigns/drive/pause", "operator").json()
    assert paused["runs"] == [1]
    again = api.post("/api/campaigns/drive/pause", "operator")
    assert again.status_code == 409
    retried = api.post("/api/campaigns/drive/retry", "admin").json()
    assert retried["rows"] == 1
    actions = [(e["actor"], e["action"]) for e in lifecycle.history(engine, "drive")]
    assert ("approver", "approve") in actions and ("operator", "pause") in actions
    assert ("admin", "retry") in actions
