"""Who is acting, for the audit trail: set per request by `veloweb.audit_middleware`, per command
by `acting_as`, read by `backups.services.audit.record`. A context variable, so that services
record who and from where without every call passing the request down."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    user: Any = None  # a User, or None (system jobs, anonymous)
    username: str = ""
    address: str | None = None
    via: str = ""  # web, cli, sso, system


SYSTEM = Actor(username="system", via="system")
_current: ContextVar[Any] = ContextVar("veloweb_audit_actor", default=None)


def current() -> Actor:
    """The actor of this request or command; `system` when nobody set one (RQ jobs, cron). A
    request's user is read when an entry is written, not when the request came in: the API's
    token authentication signs the user in inside the view."""
    value = _current.get()
    if value is None:
        return SYSTEM
    if isinstance(value, Actor):
        return value
    via = "api" if value.path.startswith("/api/") else "web"
    return user_actor(getattr(value, "user", None), client_address(value), via=via)


@contextlib.contextmanager
def acting_as(actor: Any) -> Iterator[Any]:
    """`actor`: an Actor, or a request whose user acts."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def user_actor(user, address: str | None = None, via: str = "web") -> Actor:
    """The actor for a (possibly anonymous) user."""
    if user is not None and getattr(user, "is_authenticated", False):
        return Actor(user=user, username=user.get_username(), address=address, via=via)
    return Actor(address=address, via=via)


def client_address(request) -> str | None:
    """The client's address as the server saw it (REMOTE_ADDR; a proxy's own address behind one)."""
    address = (request.META.get("REMOTE_ADDR") or "").strip()
    return address or None
