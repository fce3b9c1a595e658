"""What a user is called: the sign-in name (``王小明``, ``wang.xm``) and the free text
pages show beside it (display name, department), checked before anything is stored.

A user name is what people sign in with and what the audit log records: 1-64 letters of
any script, digits, ``_``, ``.`` or ``-``, starting with a letter or digit, so that it
reads cleanly in a URL, a log line and a shell command. It is stored NFC-normalised and
compared exactly; :func:`folded_name` tells names apart that people would mistake for
one another (case, full-width forms). Display names and departments are 1-64 characters
of plain text: no control or invisible formatting characters, which would break a page's
layout, a log line or the direction of the text around them.
"""

from __future__ import annotations

import unicodedata

from dispatcher.errors import DispatcherError

MAX_NAME = 64  # users.name is String(64): characters, in any script
MAX_PROFILE = 64  # users.display_name and users.department are String(64)
NAME_MARKS = "_.-"  # the punctuation a user name may hold besides letters and digits
# Unicode categories refused in display names and departments: control, format (bidi
# overrides, zero-width), surrogate, private-use, unassigned, line and paragraph breaks.
_CONTROL = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def normal_name(name: str) -> str:
    """``name`` as stored and compared: NFC (one code point sequence per written form)."""
    return unicodedata.normalize("NFC", name)


def check_name(name: str) -> str:
    """``name`` NFC-normalised, or a DispatcherError saying what is wrong and what a user
    name may hold."""
    name = normal_name(name)
    problem = _name_problem(name)
    if problem is not None:
        raise DispatcherError(f"user name {shown(name)}: {problem}; a user name has 1-"
                              f"{MAX_NAME} letters (any script, such as 王小明 or wang.xm), "
                              "digits, _ . or -, and starts with a letter or digit")
    return name


def _name_problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it has {len(name)} characters"
    for char in name:
        if not (_word_char(char) or char in NAME_MARKS):
            return f"{_described(char)} is not allowed"
    if not _word_char(name[0]) or unicodedata.category(name[0]).startswith("M"):
        return f"it starts with {_described(name[0])}"
    return None


def _word_char(char: str) -> bool:
    """A letter of any script (with its combining marks) or a decimal digit."""
    kind = unicodedata.category(char)
    return kind[0] in "LM" or kind == "Nd"


def _described(char: str) -> str:
    """A character named so that a message shows it even when it is invisible."""
    kind = unicodedata.category(char)
    if kind == "Cc":
        return f"the control character U+{ord(char):04X}"
    if char == " ":
        return "a space"
    if kind.startswith("Z"):
        return f"a space (U+{ord(char):04X})"
    if not char.isprintable():
        return f"the invisible character U+{ord(char):04X}"
    return repr(char)


def profile_text(what: str, text: str | None) -> str | None:
    """A display name or department as stored: spaces at either end dropped, NFC; None
    when not given or blank. DispatcherError when too long or holding control characters
    (they would break a page's layout or a log line)."""
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text.strip())
    if not text:
        return None
    bad = next((c for c in text if unicodedata.category(c) in _CONTROL), None)
    if len(text) > MAX_PROFILE or bad is not None:
        problem = (f"has {len(text)} characters" if bad is None
                   else f"holds {_described(bad)}")
        raise DispatcherError(f"{what} {shown(text)}: it {problem}; write 1-{MAX_PROFILE} "
                              "characters of plain text (such as 王小明 or 宣传科), or an empty "
                              "value to leave it out")
    return text


def folded_name(name: str) -> str:
    """``name`` with case and width folded: two names alike here would be mistaken."""
    return unicodedata.normalize("NFKC", name).casefold()


def shown(text: str) -> str:
    """``text`` quoted for a message, control characters escaped, at most 60 characters."""
    return repr(text if len(text) <= 60 else text[:57] + "...")
