"""Single sign-on: mozilla-django-oidc's backend, with Veloweb's user matching and role mapping.

An SSO user is found by the token's (issuer, subject) (`SsoIdentity`), never by a username or an
email that a local account may have; a new one is created with the username claim (made unique
with `-sso`, `-sso2`... when a local user has it) and no password. At every sign-in the role comes
from the groups claim through VELOWEB_OIDC_ROLE_MAP (the highest role any group maps to, else
VELOWEB_OIDC_DEFAULT_ROLE, else none); a change is recorded in the audit trail."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from backups.audit_context import acting_as, client_address, user_actor
from backups.models import SsoIdentity
from backups.permissions import ROLES
from backups.services import users

log = logging.getLogger(__name__)
_RANK = {role: rank for rank, role in enumerate(ROLES, 1)}


def groups_of(claims: dict) -> list[str]:
    """The groups claim as a list (a list of names, or one comma- or space-separated string)."""
    value = claims.get(settings.VELOWEB_OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(group) for group in value if isinstance(group, str | int)]


def role_for(groups: list[str]) -> str:
    """The highest role the groups map to, else the default role ("" for no access)."""
    mapped = [settings.VELOWEB_OIDC_ROLE_MAP[g] for g in groups if g in settings.VELOWEB_OIDC_ROLE_MAP]
    return max(mapped, key=_RANK.__getitem__) if mapped else settings.VELOWEB_OIDC_DEFAULT_ROLE


class VelowebOIDCBackend(OIDCAuthenticationBackend):
    def retrieve_matching_jwk(self, token):
        """The provider's key for `token`: by its `kid`, or, for a token without one (some
        providers sign with their only key), the one key of the JWKS that has the token's alg."""
        import jwt
        import requests
        from django.core.exceptions import SuspiciousOperation

        header = jwt.get_unverified_header(token)
        if "kid" in header:
            return super().retrieve_matching_jwk(token)
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT, timeout=self.get_settings("OIDC_TIMEOUT", None))
        response.raise_for_status()
        keys = [
            k for k in response.json().get("keys", []) if k.get("alg", header.get("alg")) == header.get("alg")
        ]
        if len(keys) != 1:
            raise SuspiciousOperation("the ID token names no key (kid) and the provider has several")
        return jwt.PyJWK(keys[0])

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(
            sso_identity__issuer=settings.VELOWEB_OIDC_ISSUER, sso_identity__subject=str(claims["sub"])
        )

    def describe_user_by_claims(self, claims):
        return f"subject {claims.get('sub')}"

    def create_user(self, claims):
        base = str(claims.get(settings.VELOWEB_OIDC_USERNAME_CLAIM) or claims.get("email") or claims["sub"])[
            :140
        ]
        username, number = base, 1
        while self.UserModel.objects.filter(username=username).exists():
            username = f"{base}-sso{number if number > 1 else ''}"
            number += 1
        with transaction.atomic():
            user = self.UserModel.objects.create_user(username, email=str(claims.get("email") or ""))
            user.set_unusable_password()  # signs in through the provider only
            user.save(update_fields=["password"])
            SsoIdentity.objects.create(
                user=user, issuer=settings.VELOWEB_OIDC_ISSUER, subject=str(claims["sub"])
            )
        log.info("SSO user %s created for subject %s", username, claims["sub"])
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        groups = groups_of(claims)
        SsoIdentity.objects.filter(user=user).update(groups=groups, last_login=timezone.now())
        email = str(claims.get("email") or "")
        if email and email != user.email:
            user.email = email
            user.save(update_fields=["email"])
        request = getattr(self, "request", None)
        address = client_address(request) if request is not None else None
        with acting_as(user_actor(user, address, via="sso")):
            try:
                users.change_role(user, role_for(groups), source="sso groups claim")
            except users.UserProblem as problem:  # a superuser, or the last admin: kept as they are
                log.warning("SSO user %s keeps their role: %s", user.get_username(), problem)
        return user


def provider_logout_url(request) -> str:
    """Where signing out goes: the provider's end-session endpoint for an SSO sign-in (it comes
    back to the sign-in page), else the sign-in page."""
    back = resolve_url(settings.LOGOUT_REDIRECT_URL)
    end = settings.VELOWEB_OIDC_END_SESSION_ENDPOINT
    id_token = request.session.get("oidc_id_token")
    if not end or not id_token:
        return back
    query = {"id_token_hint": id_token, "post_logout_redirect_uri": request.build_absolute_uri(back)}
    return f"{end}{'&' if '?' in end else '?'}{urlencode(query)}"
