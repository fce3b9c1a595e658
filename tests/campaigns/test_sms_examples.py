"""The example campaign files of docs/channels/sms.md pass validation against the
example configuration there, and fail when its templates do not match."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dispatcher.config import parse_config
from dispatcher.planning import campaign_store

EXAMPLES = Path(__file__).resolve().parents[2] / "campaigns" / "examples"
TEMPLATES = {
    "SMS_465810001": "扫黑除恶，人人有责。发现涉黑涉恶线索请拨打举报电话${hotline}。回TD退订",
    "2019110": {"text": "{1}居民您好：平安宣传周开始了，详情见公众号。拒收请回复R",
                "kind": "marketing"},
}


def config(templates: dict[str, Any]) -> Any:
    return parse_config({"channels": {"sms": {
        "provider": "aliyun", "access_key_id": "LTAI5tExample",
        "access_key_secret": "env:ALIYUN_ACCESS_KEY_SECRET", "sign_name": "平安高新",
        "templates": templates,
        "accounts": {"tencent": {"provider": "tencent", "secret_id": "AKIDexample",
                                 "secret_key": "env:TENCENT_SECRET_KEY",
                                 "sdk_app_id": "1400000000"}}}}})


@pytest.mark.parametrize("name", ["sms-aliyun.toml", "sms-tencent.toml"])
def test_the_examples_are_valid(engine: Engine, import_list: Any, name: str) -> None:
    import_list("residents", "phone,area,district\n13800000001,residential,高新区\n")
    checked = campaign_store.check_file(config(TEMPLATES), engine, EXAMPLES / name)
    assert checked.campaign is not None, checked.issues


def test_a_template_not_configured_is_named(sqlite_engine: Engine) -> None:
    checked = campaign_store.check_file(config({}), sqlite_engine,
                                        EXAMPLES / "sms-aliyun.toml")
    assert checked.campaign is None
    assert any("SMS_465810001" in str(issue) for issue in checked.issues)
