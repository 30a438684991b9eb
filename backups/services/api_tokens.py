"""API tokens: created for a user (the token shown once, only its hash kept), revoked by its
user or an admin, and looked up by the API's authentication. A token acts with its user's role
of the moment, so a role change or a deactivated user takes effect on the next request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from backups.models import ApiToken
from backups.services import audit

PREFIX = "vwt_"
NAME_MAX = 100
LAST_USED_EVERY = timedelta(minutes=1)  # at most one write a minute per token, not one per request


class TokenProblem(ValueError):
    """A token that cannot be created (no name, a name too long); nothing was saved."""


class Rejected(LookupError):
    """A token that does not sign anyone in: unknown, revoked, or its user is inactive."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the row and the token itself (to show once; it is not stored)."""
    name = (name or "").strip()
    if not name:
        raise TokenProblem("a token needs a name that says what it is for")
    if len(name) > NAME_MAX:
        raise TokenProblem(f"a token's name has at most {NAME_MAX} characters")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name, prefix=token[:10], digest=digest(token))
    audit.record(
        audit.TOKEN_CREATED, row, kind="token", details={"user": user.get_username(), "prefix": row.prefix}
    )
    return row, token


def revoke(token: ApiToken) -> bool:
    """Revoke `token` from now on; False when it was revoked already."""
    changed = ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())
    token.refresh_from_db(fields=["revoked"])
    if changed:
        details = {"user": token.user.get_username(), "prefix": token.prefix}
        audit.record(audit.TOKEN_REVOKED, token, kind="token", details=details)
    return bool(changed)


def authenticate(token: str) -> ApiToken:
    """The token row whose user the request acts as, or Rejected saying why."""
    row = ApiToken.objects.select_related("user").filter(digest=digest(token.strip())).first()
    if row is None:
        raise Rejected("unknown API token")
    if row.revoked is not None:
        raise Rejected(f"API token {row.prefix}… was revoked")
    if not row.user.is_active:
        raise Rejected("the API token's user is deactivated")
    now = timezone.now()
    if row.last_used is None or now - row.last_used > LAST_USED_EVERY:
        ApiToken.objects.filter(pk=row.pk).update(last_used=now)
        row.last_used = now
    return row


def tokens_of(user):
    return ApiToken.objects.filter(user=user)


def all_tokens():
    return ApiToken.objects.select_related("user")
