"""The macros the pages share (templates/_macros.html)."""

from __future__ import annotations

from dispatcher.web.pages.common import TEMPLATES

PAGE = ('{% from "_macros.html" import post_button with context %}'
        '{{ post_button("/logs/5/retry", "Retry", [("next", here)], css_class="actions") }}')


def test_a_post_button_carries_the_csrf_token_and_its_fields_escaped() -> None:
    html = TEMPLATES.env.from_string(PAGE).render(csrf="tok", here="/logs?a=1&b=<2>")
    assert html == ('<form method="post" action="/logs/5/retry" class="actions">\n'
                    '  <input type="hidden" name="csrf" value="tok">\n'
                    '  <input type="hidden" name="next" value="/logs?a=1&amp;b=&lt;2&gt;">\n'
                    '  <button type="submit">Retry</button>\n'
                    '</form>')
