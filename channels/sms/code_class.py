"""What a domestic SMS platform's error code means for a row: fail it, retry it, or ask.

Aliyun (:mod:`channels.sms.aliyun_codes`) and Tencent Cloud
(:mod:`channels.sms.tencent_codes`) name their errors with dotted strings; each module
keeps three tables of the codes it knows and a rule by prefix for the ones it does not,
and both answer with a :class:`CodeClass`, so the clients and the receipt handlers treat
the two platforms alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

# failed: it will not go through as things stand (the row fails now, no resend);
# retry: the platform did not take it, sending again later can work (nothing was sent);
# unknown: the platform may have taken it: look it up before sending again.
Outcome = Literal["failed", "retry", "unknown"]


class CodeClass(NamedTuple):
    """``description``: English, for the row's detail (the log's explanation tables give
    the words people read). ``opt_out``: the person refused our messages, so the number
    goes on the opt-out list."""

    outcome: Outcome
    description: str
    opt_out: bool = False


def classify_in(code: str, tables: Mapping[Outcome, Mapping[str, str]],
                opt_out: frozenset[str], prefixes: tuple[tuple[str, Outcome], ...],
                platform: str) -> CodeClass:
    """``code`` looked up in ``tables`` (outcome -> code -> description); a code in none
    of them takes the outcome of its first matching prefix in ``prefixes`` ("" matches
    every code), described as not known here."""
    wanted = code.strip()
    for outcome, table in tables.items():
        if wanted in table:
            return CodeClass(outcome, table[wanted], wanted in opt_out)
    outcome = next(found for prefix, found in prefixes if wanted.startswith(prefix))
    return CodeClass(outcome, f"{platform} error {wanted[:60]} (not described here)")
