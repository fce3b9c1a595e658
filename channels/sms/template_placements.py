"""Placements for the domestic platforms: an approved template, a signature and params.

A placement names ``template`` (the code or id of ``[channels.sms.templates]``),
``sign_name`` (or takes its account's) and ``params``: a table for Aliyun's ``${name}``
placeholders, an array for Tencent's ``{1}``. A param is a fixed string, or the
contact's field written ``{ contact = "name" }`` (``name`` or ``district``), filled per
message. Validation renders the text with each contact field shown as its name, so the
planner sees the words and the count the phone and the bill will see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import Message, Placement, Problem, toml_value, type_name
from channels.sms.templates import SmsTemplate, count_chars, sign_name_problem

CONTACT_FIELDS = ("name", "district")
# What a contact field stands for in a rendered preview.
PREVIEW = {"name": "张三", "district": "高新区"}

ParamValue = str | Mapping[str, str]
Params = Mapping[str, str] | Sequence[str]


def template_problems(options: Mapping[str, Any], templates: Mapping[str, SmsTemplate] | None,
                      default_sign: str | None, max_parts: int) -> list[Problem]:
    """Every problem of a template placement; ``templates`` None: not configured here, so
    only the shape of the options is checked."""
    problems = _sign_problems(options.get("sign_name"), default_sign)
    problems += _shape_problems(options.get("params", {}))
    code = options.get("template")
    if not isinstance(code, str | int) or isinstance(code, bool) or not str(code).strip():
        return [Problem(("template",), "is required: the approved template's code, such as "
                                       'template = "SMS_123456789"'), *problems]
    if templates is None or problems:
        return problems
    template = templates.get(str(code))
    if template is None:
        known = ", ".join(sorted(templates)) or "none"
        return [Problem(("template",), f'"{code}" is not in [channels.sms.templates]; '
                                       f"known: {known}")]
    params = preview_params(options.get("params", {}))
    problems += [Problem(("params",), text) for text in template.param_problems(params)]
    if problems:
        return problems
    sign = str(options.get("sign_name") or default_sign)
    counted = count_chars(template.render(params), sign)
    if counted.parts > max_parts:
        problems.append(Problem(("template",), f"renders to {counted.chars} characters with "
                                               f"【{sign}】, {counted.parts} parts (70 in one "
                                               "message, 67 per part when longer), more "
                                               f"than max_segments = {max_parts}"))
    return problems


def contact_fields(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The contact fields the placement's params use, in order, once each."""
    values = _values(options.get("params", {}))
    return tuple(dict.fromkeys(v["contact"] for v in values if isinstance(v, Mapping)))


def preview_params(params: Any) -> Params:
    """The params with each contact field shown as a sample value (for counting)."""
    return _filled(params, PREVIEW)


def message_params(placement: Placement, message: Message) -> Params:
    """The params of one message: contact fields from ``message.fields``."""
    return _filled(placement.options.get("params", {}), message.fields or {})


def rendered(template: SmsTemplate, placement: Placement, sign: str,
             fields: Mapping[str, str] | None = None) -> str:
    """The text as the phone shows it: 【sign】 and the rendered template."""
    params = _filled(placement.options.get("params", {}), fields or PREVIEW)
    return f"【{sign}】{template.render(params)}"


def _filled(params: Any, fields: Mapping[str, str]) -> Params:
    def value(item: ParamValue) -> str:
        return fields.get(item["contact"], "") if isinstance(item, Mapping) else str(item)

    if isinstance(params, Mapping):
        return {str(k): value(v) for k, v in params.items()}
    return [value(v) for v in params]


def _values(params: Any) -> list[Any]:
    if isinstance(params, Mapping):
        return list(params.values())
    return list(params) if isinstance(params, list) else []


def _shape_problems(params: Any) -> list[Problem]:
    if not isinstance(params, Mapping | list):
        return [Problem(("params",), "must be a table for ${name} placeholders (Aliyun) or "
                                     "an array for {1} placeholders (Tencent), got "
                                     f"{type_name(params)}")]
    keys = params.keys() if isinstance(params, Mapping) else range(1, len(params) + 1)
    problems = []
    for key, item in zip(keys, _values(params), strict=True):
        problem = _param_problem(item)
        if problem:
            problems.append(Problem(("params", key), problem))
    return problems


def _param_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return None
    if isinstance(item, Mapping):
        field = item.get("contact")
        if set(item) == {"contact"} and field in CONTACT_FIELDS:
            return None
        written = ", ".join(f"{k} = {toml_value(v)}" for k, v in item.items())
        return ('a contact field is written { contact = "name" } or { contact = "district" }, '
                f"got {{ {written} }}")
    return (f"must be a string or a contact field such as {{ contact = \"name\" }}, "
            f"got {type_name(item)}")


def _sign_problems(value: Any, default_sign: str | None) -> list[Problem]:
    if value is None:
        if default_sign is None:
            return [Problem(("sign_name",), "is required: the registered signature without "
                                            '【】, such as sign_name = "平安高新" (or set '
                                            "sign_name on the account)")]
        return []
    problem = sign_name_problem(value)
    return [Problem(("sign_name",), problem)] if problem else []
