"""Schemathesis drives every operation of the OpenAPI schema: no input makes a 500."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from dispatcher import registry
from dispatcher.accounts.users import add_user, create_token
from dispatcher.audience.contacts import import_contacts
from dispatcher.config import parse_config
from dispatcher.storage.db import make_engine
from dispatcher.testing import plan_campaign, sms_campaign_text
from dispatcher.web.app import create_app

CAMPAIGN = sms_campaign_text()


def make_app() -> tuple[Any, str]:
    """An app over a throwaway SQLite database with a planned campaign and an admin."""
    workdir = Path(tempfile.mkdtemp(prefix="openapi-"))
    engine: Engine = make_engine(f"sqlite:///{workdir / 'dispatcher.db'}")
    import_contacts(engine, io.StringIO("phone,area,district\n13800000001,,\n"), "residents",
                    "CN")
    plan_campaign(engine, CAMPAIGN)
    add_user(engine, "admin", "admin", "a-long-password")
    token = create_token(engine, "admin", "schemathesis")
    config = parse_config({})
    return create_app(engine, config, registry.build_channels(config.channels)), token


APP, TOKEN = make_app()  # built once at import: schemathesis needs the schema to collect
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case: Any) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                           checks=[not_a_server_error])
