"""Office accounts and API tokens in the central database (``office_users``, ``office_api_tokens``).

Used by the CLI (``users``, ``tokens``) and the server. Every change writes its audit row in the
same transaction. Usernames are kept lower-case, so ``Anna`` and ``anna`` are one account.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import structlog
from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.schema import office_api_tokens, office_sessions, office_users
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office import audit
from sputnik_edge.office.security import IssuedToken, generate_api_token, hash_password

log = structlog.get_logger(__name__)

Role = Literal["admin", "hr", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@\-]{0,63}$")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a megabyte "password" is an attack


class UserError(ValueError):
    """A user or token operation that cannot be done; the message names the problem."""


class UserExistsError(UserError):
    pass


class UnknownUserError(UserError, LookupError):
    pass


@dataclass(frozen=True, slots=True)
class OfficeUser:
    user_id: int
    username: str
    role: Role
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None
    tokens: int = 0  # live API tokens


@dataclass(frozen=True, slots=True)
class CreatedToken:
    token_id: str
    username: str
    name: str
    issued: IssuedToken


def normalise_username(username: str) -> str:
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise UserError(
            f"username {username!r} must be 1-64 characters: letters, digits, _ . @ - "
            "(starting with a letter or digit)"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise UserError(f"the password must have at most {MAX_PASSWORD_CHARS} characters")
    return password


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise UserError(f"role {role!r} must be one of {', '.join(ROLES)}")
    return role


def _user_id(conn: Connection, username: str) -> int:
    found = conn.execute(select(office_users.c.user_id).where(office_users.c.username == username)).scalar()
    if found is None:
        raise UnknownUserError(f"no office user {username!r}")
    return int(found)


def add_user(
    central: CentralStore, username: str, password: str, role: str, *, actor: str, trace_id: str | None = None
) -> OfficeUser:
    name, role_ = check_username(username), check_role(role)
    password_hash = hash_password(check_password(password))  # before the transaction: ~50 ms of CPU
    stmt = (
        pg_insert(office_users)
        .values(username=name, password_hash=password_hash, role=role_)
        .on_conflict_do_nothing(index_elements=[office_users.c.username])
        .returning(office_users.c.user_id, office_users.c.created_at)
    )

    def run(conn: Connection) -> OfficeUser:
        row = conn.execute(stmt).first()
        if row is None:
            raise UserExistsError(f"office user {name!r} exists already")
        audit.record(
            conn,
            actor=actor,
            action="user_created",
            target_type="user",
            target_id=name,
            details={"role": role_},
            trace_id=trace_id,
        )
        return OfficeUser(int(row.user_id), name, role_, True, row.created_at, None)

    user = central._transaction("adding office user", run)
    log.info("office_user_created", username=name, role=role_)
    return user


def list_users(central: CentralStore) -> list[OfficeUser]:
    live = office_api_tokens.c.revoked_at.is_(None)
    stmt = (
        select(
            office_users.c.user_id,
            office_users.c.username,
            office_users.c.role,
            office_users.c.is_active,
            office_users.c.created_at,
            office_users.c.last_login_at,
            func.count(office_api_tokens.c.token_id).filter(live).label("tokens"),
        )
        .select_from(
            office_users.outerjoin(office_api_tokens, office_api_tokens.c.user_id == office_users.c.user_id)
        )
        .group_by(office_users.c.user_id)
        .order_by(office_users.c.username)
    )
    rows = central._transaction("listing office users", lambda conn: conn.execute(stmt).all())
    return [
        OfficeUser(r.user_id, r.username, r.role, r.is_active, r.created_at, r.last_login_at, int(r.tokens))
        for r in rows
    ]


def set_active(
    central: CentralStore, username: str, active: bool, *, actor: str, trace_id: str | None = None
) -> bool:
    """Enable or disable an account; False when it already was. Disabling also revokes every open
    session, so a later enable does not bring old logins back; tokens are refused while disabled
    (every request checks the account) and work again after an enable."""
    name = normalise_username(username)

    def run(conn: Connection) -> bool:
        user_id = _user_id(conn, name)
        changed = conn.execute(
            update(office_users)
            .where(office_users.c.user_id == user_id, office_users.c.is_active.is_not(active))
            .values(is_active=active)
        ).rowcount
        if not active:
            conn.execute(
                update(office_sessions)
                .where(office_sessions.c.user_id == user_id, office_sessions.c.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
        if changed:
            audit.record(
                conn,
                actor=actor,
                action="user_enabled" if active else "user_disabled",
                target_type="user",
                target_id=name,
                trace_id=trace_id,
            )
        return bool(changed)

    changed = central._transaction("updating office user", run)
    log.info("office_user_updated", username=name, is_active=active, changed=changed)
    return changed


def create_token(
    central: CentralStore, username: str, name: str, *, actor: str, trace_id: str | None = None
) -> CreatedToken:
    """A new API token for ``username``. The token itself is in the result only: the database keeps
    its SHA-256."""
    user = normalise_username(username)
    label = name.strip()
    if not label or len(label) > 100:
        raise UserError("the token name must be 1-100 characters")
    issued = generate_api_token()
    token_id = str(uuid.uuid4())

    def run(conn: Connection) -> None:
        user_id = _user_id(conn, user)
        conn.execute(
            office_api_tokens.insert().values(
                token_id=token_id, user_id=user_id, name=label, token_hash=issued.token_hash, hint=issued.hint
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="token_created",
            target_type="token",
            target_id=token_id,
            details={"username": user, "name": label, "hint": issued.hint},
            trace_id=trace_id,
        )

    central._transaction("creating API token", run)
    log.info("office_token_created", username=user, token_id=token_id)
    return CreatedToken(token_id, user, label, issued)


def revoke_token(central: CentralStore, token_id: str, *, actor: str, trace_id: str | None = None) -> bool:
    try:
        tid = str(uuid.UUID(token_id))
    except ValueError:
        raise UserError(f"{token_id!r} is not a token id") from None

    def run(conn: Connection) -> bool:
        done = conn.execute(
            update(office_api_tokens)
            .where(office_api_tokens.c.token_id == tid, office_api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        ).rowcount
        if done:
            audit.record(
                conn,
                actor=actor,
                action="token_revoked",
                target_type="token",
                target_id=tid,
                trace_id=trace_id,
            )
        return bool(done)

    return central._transaction("revoking API token", run)
