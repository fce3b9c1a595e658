"""A Tencent Cloud SMS (API 2021-01-11) sandbox on loopback, spoken to by the official SDK::

    from dispatcher.sandbox.tencent import TencentOptions, TencentSandbox

    sandbox = TencentSandbox(TencentOptions(seed=7, error_rate=0.05, report_url=hook))
    with sandbox.serve() as url:   # http://127.0.0.1:<free port>
        ...                        # [channels.sms] provider = "tencent", endpoint = url
    print(sandbox.stats())
"""

from dispatcher.sandbox.tencent.options import (
    SANDBOX_SDK_APP_ID,
    SANDBOX_SECRET_ID,
    SANDBOX_SECRET_KEY,
    TencentOptions,
)
from dispatcher.sandbox.tencent.server import TencentSandbox, create_tencent_app

__all__ = ["SANDBOX_SDK_APP_ID", "SANDBOX_SECRET_ID", "SANDBOX_SECRET_KEY", "TencentOptions",
           "TencentSandbox", "create_tencent_app"]
