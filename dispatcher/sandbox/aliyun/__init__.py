"""An Aliyun SMS (dysmsapi 2017-05-25) sandbox on loopback, spoken to by the official SDK::

    from dispatcher.sandbox.aliyun import AliyunOptions, AliyunSandbox

    sandbox = AliyunSandbox(AliyunOptions(seed=7, error_rate=0.05, report_url=hook))
    with sandbox.serve() as url:   # http://127.0.0.1:<free port>
        ...                        # [channels.sms] provider = "aliyun", endpoint = url
    print(sandbox.stats())
"""

from dispatcher.sandbox.aliyun.options import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_ACCESS_KEY_SECRET,
    AliyunOptions,
)
from dispatcher.sandbox.aliyun.server import AliyunSandbox, create_aliyun_app

__all__ = ["SANDBOX_ACCESS_KEY_ID", "SANDBOX_ACCESS_KEY_SECRET", "AliyunOptions",
           "AliyunSandbox", "create_aliyun_app"]
