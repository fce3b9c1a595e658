"""Users, roles, passwords and API tokens for the web app and the REST API.

Roles and what they may do (one role per user):

- ``planner``: read campaigns, runs, reach and the delivery log (numbers masked);
- ``approver``: the planner's reading, and approve campaign versions;
- ``operator``: the planner's reading with full numbers, pause, resume, cancel, retry;
- ``admin``: everything.

Passwords are hashed with scrypt (the standard library's, memory-hard; the salt and
costs are stored with the hash). API tokens are random, shown once, stored as SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from dispatcher.db import utcnow
from dispatcher.errors import DispatcherError, NotFoundError
from dispatcher.tables import api_tokens, users

ROLES = ("planner", "approver", "operator", "admin")
READ, APPROVE, OPERATE, UNMASK, ADMIN = "read", "approve", "operate", "unmask", "admin"
PERMISSIONS = {
    "planner": frozenset({READ}),
    "approver": frozenset({READ, APPROVE}),
    "operator": frozenset({READ, OPERATE, UNMASK}),
    "admin": frozenset({READ, APPROVE, OPERATE, UNMASK, ADMIN}),
}
MIN_PASSWORD = 10
_NAME = re.compile(r"[a-z][a-z0-9_.-]{1,63}")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
TOKEN_PREFIX = "dsp_"


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


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


def add_user(engine: Engine, name: str, role: str, password: str) -> User:
    if not _NAME.fullmatch(name):
        raise DispatcherError(f"user name {name!r}: 2-64 lowercase letters, digits, _ . or -, "
                              "starting with a letter")
    if role not in ROLES:
        raise DispatcherError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise DispatcherError(f"the password must have at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        if conn.execute(select(users.c.name).where(users.c.name == name)).first():
            raise DispatcherError(f"user {name!r} exists; change the role with "
                                  f"`dispatcher user role {name} ROLE`")
        conn.execute(users.insert().values(name=name, role=role, created_at=utcnow(),
                                           password_hash=hash_password(password)))
    return User(name, role)


def set_role(engine: Engine, name: str, role: str) -> None:
    if role not in ROLES:
        raise DispatcherError(f"role {role!r} is not one of {', '.join(ROLES)}")
    with engine.begin() as conn:
        if not conn.execute(update(users).where(users.c.name == name).values(role=role)
                            ).rowcount:
            raise NotFoundError(f"no user {name!r}")


def authenticate(engine: Engine, name: str, password: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.name == name,
                                               users.c.disabled.is_(False))).first()
    if row is None:
        password_matches(_DUMMY, password)  # same time whether or not the user exists
        return None
    return User(row.name, row.role) if password_matches(row.password_hash, password) else None


def get_user(engine: Engine, name: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users.c.name, users.c.role).where(
            users.c.name == name, users.c.disabled.is_(False))).first()
    return None if row is None else User(row.name, row.role)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [User(r.name, r.role) for r in conn.execute(
            select(users.c.name, users.c.role).order_by(users.c.name))]


def create_token(engine: Engine, name: str, label: str) -> str:
    if get_user(engine, name) is None:
        raise NotFoundError(f"no user {name!r}; add one with `dispatcher user add`")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(api_tokens.insert().values(
            user_name=name, token_hash=_token_hash(token), label=label, created_at=utcnow()))
    return token


def token_user(engine: Engine, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = _token_hash(token)
    with engine.begin() as conn:
        row = conn.execute(select(users.c.name, users.c.role)
                           .join(api_tokens, api_tokens.c.user_name == users.c.name)
                           .where(api_tokens.c.token_hash == digest,
                                  users.c.disabled.is_(False))).first()
        if row is not None:
            conn.execute(update(api_tokens).where(api_tokens.c.token_hash == digest)
                         .values(last_used_at=utcnow()))
    return None if row is None else User(row.name, row.role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_DUMMY = hash_password(secrets.token_hex(8))
