"""Provider simulators on loopback, reached only over HTTP exactly like the real providers.

Nothing here imports the engine, planner, database or web app: the dispatcher cannot tell
a sandbox from the real service, so the demo and the tests run the real client libraries
offline. ``dispatcher sandbox serve`` (Twilio), ``dispatcher sandbox wechat``,
``dispatcher sandbox led`` (a fleet of LED controllers), ``dispatcher sandbox cinema``
(a cinema management system) and ``dispatcher sandbox partner`` (a partner app's notice
endpoint) run one in the foreground; from Python::

    from dispatcher.sandbox import TwilioOptions, TwilioSandbox

    sandbox = TwilioSandbox(TwilioOptions(seed=7, error_rate=0.05))
    with sandbox.serve() as url:   # http://127.0.0.1:<free port>
        ...                        # point [channels.sms] api_base at url
    print(sandbox.stats())

    from dispatcher.sandbox import WeChatOptions, WeChatSandbox

    with WeChatSandbox(WeChatOptions(followers=500)).serve() as url:
        ...                        # route a wechatpy client there (channels.wechat.transport)

    from dispatcher.sandbox import LedFleet, LedOptions, ScreenSpec

    screens = [ScreenSpec("B-001", token, "pull"), ScreenSpec("F-001", token2, "push")]
    with LedFleet(screens, dispatcher_url, LedOptions(seed=1)).run() as fleet:
        fleet.push_url("F-001")    # register it; plays are reported to the dispatcher
        fleet.wait_for_reports(5)

    from dispatcher.sandbox import CinemaOptions, CinemaSystem, read_program

    program = read_program("cinemas.csv", "auditoriums.csv", "showtimes.csv")
    system = CinemaSystem(program, {"C01": token}, dispatcher_url, CinemaOptions(seed=1))
    with system.serve() as url:    # POST {url}/bookings; play logs go to the dispatcher
        system.wait_for_logs(5)

    from dispatcher.sandbox import PartnerOptions, PartnerSandbox

    partner = PartnerSandbox(PartnerOptions(secret=secret, error_rate=0.05))
    with partner.serve() as url:   # an endpoint's url = f"{url}/notices"
        partner.wait_for_acks(5)   # acknowledgements go to each notice's callback_url
"""

from dispatcher.sandbox.cinema.options import CinemaOptions, read_tokens
from dispatcher.sandbox.cinema.program import CinemaProgram, build_program, read_program
from dispatcher.sandbox.cinema.server import CinemaSystem
from dispatcher.sandbox.led.fleet import LedFleet
from dispatcher.sandbox.led.options import LedOptions, ScreenSpec, read_screens
from dispatcher.sandbox.partner.options import SANDBOX_PARTNER_SECRET, PartnerOptions
from dispatcher.sandbox.partner.server import PartnerSandbox
from dispatcher.sandbox.twilio.options import (
           MAGIC_TO_NUMBERS,
           SANDBOX_ACCOUNT_SID,
           SANDBOX_AUTH_TOKEN,
           TwilioOptions,
)
from dispatcher.sandbox.twilio.server import TwilioSandbox, create_twilio_app
from dispatcher.sandbox.wechat.options import (
           SANDBOX_AES_KEY,
           SANDBOX_APPID,
           SANDBOX_APPSECRET,
           SANDBOX_ORIGINAL_ID,
           SANDBOX_TOKEN,
           WeChatOptions,
)
from dispatcher.sandbox.wechat.server import WeChatSandbox, create_wechat_app

__all__ = ["MAGIC_TO_NUMBERS", "SANDBOX_ACCOUNT_SID", "SANDBOX_AES_KEY", "SANDBOX_APPID",
           "SANDBOX_APPSECRET", "SANDBOX_AUTH_TOKEN", "SANDBOX_ORIGINAL_ID",
           "SANDBOX_PARTNER_SECRET", "SANDBOX_TOKEN", "CinemaOptions", "CinemaProgram",
           "CinemaSystem", "LedFleet", "LedOptions", "PartnerOptions", "PartnerSandbox",
           "ScreenSpec", "TwilioOptions", "TwilioSandbox", "WeChatOptions", "WeChatSandbox",
           "build_program", "create_twilio_app", "create_wechat_app", "read_program",
           "read_screens", "read_tokens"]
