"""Users, roles, passwords and API tokens for the web app and the REST API.

Roles and what they may do (one role per user):

- ``planner``: read campaigns, runs, reach and the delivery log (numbers masked);
- ``approver``: the planner's reading, and approve campaign versions;
- ``operator``: the planner's reading with full numbers, pause, resume, cancel, retry;
- ``admin``: everything.

Passwords are hashed with scrypt (the standard library's, memory-hard; the salt and
costs are stored with the hash). API tokens are random, shown once, stored as SHA-256
with a short prefix (``dsp_`` and 6 characters) to tell them apart; a revoked token
stays listed and answers 401.

Names (checked in :mod:`dispatcher.accounts.names`): a user name may be Chinese (``王小明``),
stored NFC-normalised and compared exactly; a new name that differs from an existing one
only in case or width is refused. The display name and the department are optional free
text that pages show beside the name.

Sessions: a user's ``session_version`` is written into the session cookie at sign-in and
compared on every request; signing out, being disabled or getting another role bumps it,
which ends every session of that user at once (a copied cookie included). A disabled
user can neither sign in nor use a session or an API token until enabled again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from dispatcher.accounts.names import check_name, folded_name, normal_name, profile_text
from dispatcher.accounts.names import shown as _shown
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.storage.db import as_utc, utcnow
from dispatcher.storage.tables import api_tokens, users

ROLES = ("planner", "approver", "operator", "admin")
READ, APPROVE, OPERATE, UNMASK, ADMIN = "read", "approve", "operate", "unmask", "admin"
PERMISSIONS = {
    "planner": frozenset({READ}),
    "approver": frozenset({READ, APPROVE}),
    "operator": frozenset({READ, OPERATE, UNMASK}),
    "admin": frozenset({READ, APPROVE, OPERATE, UNMASK, ADMIN}),
}
MIN_PASSWORD = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "dsp_"
SHOWN_PREFIX = len(TOKEN_PREFIX) + 6  # characters of a token kept to tell it apart
MAX_LABEL = 64
MAX_SESSION_VERSION = 2**31 - 1  # users.session_version is a 32-bit INTEGER


@dataclass(frozen=True)
class User:
    """A signed-in user: the name they sign in with, their role, and what pages show
    beside the name (display name such as 王小明, department such as 宣传科)."""

    name: str
    role: str
    display_name: str | None = None
    department: str | None = None

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def shown_name(self) -> str:
        """What a page calls the user: the display name when there is one."""
        return self.display_name or self.name


@dataclass(frozen=True)
class Account:
    """A user as operators see it: the role and whether, since when and by whom disabled."""

    name: str
    role: str
    disabled: bool
    disabled_at: datetime | None
    disabled_by: str | None
    display_name: str | None = None
    department: str | None = None


@dataclass(frozen=True)
class TokenInfo:
    """What is known of an API token besides the token itself (never stored)."""

    id: int
    label: str
    prefix: str | None  # None for tokens made before prefixes were kept
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(
        base64.b64encode(part).decode() for part in (salt, digest))


def password_matches(stored: str, password: str) -> bool:
    try:
        _kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        found = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt),
                               n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


def add_user(engine: Engine, name: str, role: str, password: str,
             display_name: str | None = None, department: str | None = None) -> User:
    """Add a user; the name is checked and NFC-normalised, the display name and the
    department (optional) checked as free text. Returns the user as stored."""
    name = check_name(name)
    shown = profile_text("display name", display_name)
    works_in = profile_text("department", department)
    if role not in ROLES:
        raise DispatcherError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise DispatcherError(f"the password must have at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        _refuse_taken(conn, name)
        conn.execute(users.insert().values(name=name, role=role, created_at=utcnow(),
                                           password_hash=hash_password(password),
                                           display_name=shown, department=works_in))
    return User(name, role, shown, works_in)


def set_profile(engine: Engine, name: str, display_name: str | None = None,
                department: str | None = None) -> User:
    """Change what pages show beside ``name``: None leaves a field as it is, an empty
    string clears it. Sessions go on (nothing they may do changes)."""
    values = {key: profile_text(what, text) for key, what, text in (
        ("display_name", "display name", display_name), ("department", "department", department))
        if text is not None}
    name = normal_name(name)
    with engine.begin() as conn:
        _account_row(conn, name)  # NotFoundError first: a stranger is the bigger mistake
        if not values:
            raise DispatcherError("nothing to change: give --display-name or --department "
                                  "(an empty value clears it)")
        conn.execute(update(users).where(users.c.name == name).values(**values))
        row = conn.execute(select(*_USER_COLUMNS).where(users.c.name == name)).one()
    return _user(row)


def _refuse_taken(conn: Connection, name: str) -> None:
    """Refuse ``name`` when a user has it, or a name that differs only in case or width."""
    taken = [row.name for row in conn.execute(select(users.c.name))]
    if name in taken:
        raise DispatcherError(f"user {_shown(name)} exists; change the role with "
                              f"`dispatcher user role {name} ROLE`")
    folded = folded_name(name)
    alike = next((other for other in taken if folded_name(other) == folded), None)
    if alike is not None:
        raise DispatcherError(f"user name {_shown(name)} differs from the existing user "
                              f"{_shown(alike)} only in case or width and would be mistaken "
                              "for it; choose another name")


def set_role(engine: Engine, name: str, role: str) -> None:
    if role not in ROLES:
        raise DispatcherError(f"role {role!r} is not one of {', '.join(ROLES)}")
    name = normal_name(name)
    with engine.begin() as conn:
        changed = update(users).where(users.c.name == name).values(
            role=role, session_version=users.c.session_version + 1)
        if not conn.execute(changed).rowcount:
            raise NotFoundError(_no_user(name))


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    """The user ``name`` (as typed: NFC-normalised first) if the password is right."""
    name = normal_name(name)
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name,
                                               users.c.disabled.is_(False))).first()
    if row is None:
        password_matches(_DUMMY, password)  # same time whether or not the user exists
        return None
    return _user(row) if password_matches(row.password_hash, password) else None


def get_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(*_USER_COLUMNS).where(
            users.c.name == normal_name(name), users.c.disabled.is_(False))).first()
    return None if row is None else _user(row)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(
            select(*_USER_COLUMNS).order_by(users.c.name))]


def list_accounts(engine: Engine) -> list[Account]:
    query = select(users.c.name, users.c.role, users.c.disabled, users.c.disabled_at,
                   users.c.disabled_by, users.c.display_name, users.c.department
                   ).order_by(users.c.name)
    with engine.connect() as conn:
        return [Account(r.name, r.role, bool(r.disabled), _utc(r.disabled_at), r.disabled_by,
                        r.display_name, r.department) for r in conn.execute(query)]


_USER_COLUMNS = (users.c.name, users.c.role, users.c.display_name, users.c.department)


def _user(row: Any) -> User:
    """A User from a row holding at least :data:`_USER_COLUMNS`."""
    return User(row.name, row.role, row.display_name, row.department)


# Sessions ------------------------------------------------------------------------------

def session_version(engine: Engine, name: str) -> int | None:
    """The version a new session of ``name`` carries; None if no such enabled user."""
    with engine.connect() as conn:
        found = conn.execute(select(users.c.session_version).where(
            users.c.name == name, users.c.disabled.is_(False))).scalar()
    return None if found is None else int(found)


def session_user(engine: Engine, name: str, version: int) -> User | None:
    """The user of a session cookie naming ``name`` at ``version``, if it has not ended."""
    if not 0 <= version <= MAX_SESSION_VERSION:
        return None  # never stored: not worth asking the database (nor overflowing it)
    with engine.connect() as conn:
        row = conn.execute(select(*_USER_COLUMNS).where(
            users.c.name == name, users.c.disabled.is_(False),
            users.c.session_version == version)).first()
    return None if row is None else _user(row)


def end_sessions(engine: Engine, name: str) -> None:
    """End every session of ``name`` (signed in anywhere, copied cookies included)."""
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.name == name)
                     .values(session_version=users.c.session_version + 1))


def disable_user(engine: Engine, name: str, by: str) -> bool:
    """Disable ``name``: their sessions end and their API tokens stop at once.

    False when the user was disabled already (nothing changes)."""
    name = normal_name(name)
    with engine.begin() as conn:
        done = conn.execute(update(users).where(
            users.c.name == name, users.c.disabled.is_(False)).values(
            disabled=True, disabled_at=utcnow(), disabled_by=by,
            session_version=users.c.session_version + 1)).rowcount
        if not done:
            _account_row(conn, name)  # NotFoundError for an unknown user
    return bool(done)


def enable_user(engine: Engine, name: str) -> bool:
    """Enable ``name`` again: they may sign in, and their unrevoked API tokens work again
    (their sessions from before stay ended). False when the user was enabled already."""
    name = normal_name(name)
    with engine.begin() as conn:
        done = conn.execute(update(users).where(
            users.c.name == name, users.c.disabled.is_(True)).values(
            disabled=False, disabled_at=None, disabled_by=None)).rowcount
        if not done:
            _account_row(conn, name)
    return bool(done)


# API tokens ----------------------------------------------------------------------------

def create_token(engine: Engine, name: str, label: str) -> str:
    _check_label(label)
    name = normal_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        if _account_row(conn, name).disabled:
            raise DispatcherError(f"user {_shown(name)} is disabled; enable them first with "
                                  f"`dispatcher user enable {name}`")
        conn.execute(api_tokens.insert().values(
            user_name=name, token_hash=_token_hash(token), label=label, created_at=utcnow(),
            prefix=token[:SHOWN_PREFIX]))
    return token


def list_tokens(engine: Engine, name: str) -> list[TokenInfo]:
    """``name``'s API tokens, oldest first, revoked ones included."""
    name = normal_name(name)
    with engine.connect() as conn:
        _account_row(conn, name)
        return [_token_info(row) for row in conn.execute(
            _token_query().where(api_tokens.c.user_name == name).order_by(api_tokens.c.id))]


def revoke_tokens(engine: Engine, name: str, selector: str | None, by: str
                  ) -> list[TokenInfo]:
    """Revoke one active token of ``name`` (``selector``: its label, its id, the start of
    the token as listed, or the whole token), or all of them (``selector`` None).

    An unknown user, a selector matching no active token, or one matching several is a
    :class:`DispatcherError` and revokes nothing. Returns the tokens revoked."""
    name = normal_name(name)
    with engine.begin() as conn:
        _account_row(conn, name)
        active = conn.execute(_token_query().add_columns(api_tokens.c.token_hash).where(
            api_tokens.c.user_name == name, api_tokens.c.revoked_at.is_(None))
            .order_by(api_tokens.c.id)).all()
        chosen = active if selector is None else _select(name, active, selector)
        ids = [row.id for row in chosen]
        if ids:
            conn.execute(update(api_tokens).where(
                api_tokens.c.id.in_(ids), api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow(), revoked_by=by))
        return [_token_info(row) for row in conn.execute(
            _token_query().where(api_tokens.c.id.in_(ids)).order_by(api_tokens.c.id))]


def token_user(engine: Engine, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = _token_hash(token)
    with engine.begin() as conn:
        row = conn.execute(select(*_USER_COLUMNS)
                           .join(api_tokens, api_tokens.c.user_name == users.c.name)
                           .where(api_tokens.c.token_hash == digest,
                                  api_tokens.c.revoked_at.is_(None),
                                  users.c.disabled.is_(False))).first()
        if row is not None:
            conn.execute(update(api_tokens).where(api_tokens.c.token_hash == digest)
                         .values(last_used_at=utcnow()))
    return None if row is None else _user(row)


def _select(name: str, active: Sequence[Any], selector: str) -> list[Any]:
    """The one active token ``selector`` names, or a DispatcherError saying why not."""
    digest = _token_hash(selector)
    found = [row for row in active
             if selector in (row.label, str(row.id)) or row.token_hash == digest
             or (row.prefix and len(selector) > len(TOKEN_PREFIX)
                 and row.prefix.startswith(selector))]
    if not found:
        raise NotFoundError(f"user {_shown(name)} has no active API token labelled "
                            f"{_shown(selector)} (nor with that id or prefix); list them with "
                            f"`dispatcher user tokens {name}`")
    if len(found) > 1:
        ids = ", ".join(str(row.id) for row in found)
        raise DispatcherError(f"{_shown(selector)} names {len(found)} active API tokens of "
                              f"user {_shown(name)} (ids {ids}): name one by its id or "
                              f"prefix (`dispatcher user tokens {name}`), or use --revoke-all")
    return found


def _token_query() -> Any:
    return select(api_tokens.c.id, api_tokens.c.label, api_tokens.c.prefix,
                  api_tokens.c.created_at, api_tokens.c.last_used_at,
                  api_tokens.c.revoked_at, api_tokens.c.revoked_by)


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(int(row.id), row.label, row.prefix, as_utc(row.created_at),
                     _utc(row.last_used_at), _utc(row.revoked_at), row.revoked_by)


def _check_label(label: str) -> None:
    if not (0 < len(label) <= MAX_LABEL) or not label.isprintable() \
            or label.strip() != label or label.startswith(TOKEN_PREFIX):
        raise DispatcherError(f"token label {_shown(label)}: 1-{MAX_LABEL} printable "
                              f"characters, no spaces at either end, not starting with "
                              f"{TOKEN_PREFIX!r}")


def _account_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(users.c.name, users.c.disabled).where(
        users.c.name == name)).first()
    if row is None:
        raise NotFoundError(_no_user(name))
    return row


def _no_user(name: str) -> str:
    return f"no user {_shown(name)}; list users with `dispatcher user list`"


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode(errors="surrogatepass")).hexdigest()


_DUMMY = hash_password(secrets.token_hex(8))


def remembered_locale(engine: Engine, name: str) -> str | None:
    """The dashboard language ``name`` chose last (None: not chosen yet)."""
    with engine.connect() as conn:
        found = conn.execute(select(users.c.locale).where(users.c.name == name)).scalar()
    return found if isinstance(found, str) else None


def remember_locale(engine: Engine, name: str, locale: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.name == name).values(locale=locale))
