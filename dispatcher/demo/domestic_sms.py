"""The drive's SMS through a domestic platform's sandbox (``dispatcher demo
--sms-provider aliyun|tencent``): the same message as an approved template, the account's
table, and the sandbox that pushes receipts to the account's token URL.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from dispatcher.delivery.callback_urls import push_url
from dispatcher.errors import DispatcherError
from dispatcher.sandbox.aliyun import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_ACCESS_KEY_SECRET,
    AliyunOptions,
    AliyunSandbox,
)
from dispatcher.sandbox.tencent import (
    SANDBOX_SDK_APP_ID,
    SANDBOX_SECRET_ID,
    SANDBOX_SECRET_KEY,
    TencentOptions,
    TencentSandbox,
)

PROVIDERS = ("twilio", "aliyun", "tencent")
SIGN_NAME = "平安高新"
# The drive's SMS as each platform's approved template (the hotline is the one param).
NOTICE = "扫黑除恶，人人有责。发现涉黑涉恶线索请拨打举报电话{hotline}。回TD退订"
TEMPLATES = {
    "aliyun": ("SMS_465810001", NOTICE.format(hotline="${hotline}")),
    "tencent": ("2019110", NOTICE.format(hotline="{1}")),
}
PARAMS = {"aliyun": '{ hotline = "110" }', "tencent": '["110"]'}
BODY_LINE = 'body = "【平安高新】扫黑除恶，人人有责。发现涉黑涉恶线索请拨打举报电话110。回TD退订"'
SECRET_VARIABLES = {"aliyun": "DISPATCHER_DEMO_ALIYUN_SECRET",
                    "tencent": "DISPATCHER_DEMO_TENCENT_SECRET"}
TOKEN_VARIABLE = "DISPATCHER_DEMO_SMS_CALLBACK_TOKEN"


def campaign_text(text: str, provider: str) -> str:
    """The drive's file with its SMS body as the platform's template and params."""
    if BODY_LINE not in text:
        raise DispatcherError("--sms-provider needs the drive's own campaign file: its SMS "
                              f"placement's line {BODY_LINE} was not found")
    code = TEMPLATES[provider][0]
    return text.replace(BODY_LINE, f'template = "{code}"\nsign_name = "{SIGN_NAME}"\n'
                                   f"params = {PARAMS[provider]}")


def environment(provider: str) -> dict[str, str]:
    """The variables the account's table refers to: the sandbox's secret, a fresh token."""
    secret = SANDBOX_ACCESS_KEY_SECRET if provider == "aliyun" else SANDBOX_SECRET_KEY
    return {SECRET_VARIABLES[provider]: secret, TOKEN_VARIABLE: secrets.token_urlsafe(24)}


def sms_table(provider: str, endpoint: str, rate: float, timeout: float,
              batch_size: int | None = None) -> dict[str, Any]:
    """``[channels.sms]`` for the platform's sandbox at ``endpoint``."""
    code, text = TEMPLATES[provider]
    table: dict[str, Any] = {
        "provider": provider, "endpoint": endpoint, "sign_name": SIGN_NAME, "rate": rate,
        "concurrency": 8, "timeout": timeout, "callback_token": f"env:{TOKEN_VARIABLE}",
        "templates": {code: text}}
    if provider == "aliyun":
        table |= {"access_key_id": SANDBOX_ACCESS_KEY_ID,
                  "access_key_secret": f"env:{SECRET_VARIABLES[provider]}"}
    else:
        table |= {"secret_id": SANDBOX_SECRET_ID, "sdk_app_id": SANDBOX_SDK_APP_ID,
                  "secret_key": f"env:{SECRET_VARIABLES[provider]}"}
    if batch_size is not None:
        table["batch_size"] = batch_size
    return table


DomesticSandbox = AliyunSandbox | TencentSandbox


def sandbox(provider: str, public_url: str, token: str, faults: Mapping[str, Any]
            ) -> DomesticSandbox:
    """The platform's sandbox, pushing receipts and replies to the account's URLs."""
    report = push_url(public_url, "sms", "default", "report", token)
    reply = push_url(public_url, "sms", "default", "reply", token)
    if provider == "aliyun":
        return AliyunSandbox(AliyunOptions(report_url=report, reply_url=reply,
                                           templates=dict([TEMPLATES["aliyun"]]), **faults))
    return TencentSandbox(TencentOptions(report_url=report, reply_url=reply,
                                         templates=dict([TEMPLATES["tencent"]]), **faults))
