"""Single sign-on settings from the environment (VELOWEB_OIDC_*), for mozilla-django-oidc and the
role mapping of `backups.services.sso`. Off unless VELOWEB_OIDC_CLIENT_ID is set; then either
VELOWEB_OIDC_ISSUER (its /.well-known/openid-configuration is read once at start) or the
endpoints themselves. A bad value stops the start with its name and the reason."""

from __future__ import annotations

import json
import os
import urllib.request
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

ROLES = ("viewer", "operator", "admin")
ENDPOINTS = {  # our variable -> the discovery document's key
    "AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "TOKEN_ENDPOINT": "token_endpoint",
    "USERINFO_ENDPOINT": "userinfo_endpoint",
    "JWKS_ENDPOINT": "jwks_uri",
    "END_SESSION_ENDPOINT": "end_session_endpoint",
}


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"VELOWEB_OIDC_{name}", default).strip()


def role_map(text: str) -> dict[str, str]:
    """`group=role,group=role` -> {group: role}; roles are viewer, operator or admin."""
    mapping = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        group, sep, role = entry.rpartition("=")
        group, role = group.strip(), role.strip()
        if not sep or not group:
            raise ImproperlyConfigured(f"VELOWEB_OIDC_ROLE_MAP: {entry!r} is not GROUP=ROLE")
        if role not in ROLES:
            roles = ", ".join(ROLES)
            raise ImproperlyConfigured(f"VELOWEB_OIDC_ROLE_MAP: {entry!r}: the role must be one of {roles}")
        mapping[group] = role
    return mapping


def discover(issuer: str, timeout: float = 10.0) -> dict:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - an https/http URL checked below
            return json.load(response)
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(f"VELOWEB_OIDC_ISSUER: cannot read {url}: {error}") from None


def oidc_settings() -> dict:
    """The Django settings for SSO ({"VELOWEB_OIDC_ENABLED": False} when off)."""
    client_id = _env("CLIENT_ID")
    if not client_id:
        return {"VELOWEB_OIDC_ENABLED": False}
    issuer = _env("ISSUER")
    endpoints = {name: _env(name) for name in ENDPOINTS}
    if issuer and urlsplit(issuer).scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"VELOWEB_OIDC_ISSUER={issuer!r}: give the provider's http(s) URL")
    if issuer and not all(endpoints[name] for name in ENDPOINTS if name != "END_SESSION_ENDPOINT"):
        found = discover(issuer)
        for name, key in ENDPOINTS.items():
            endpoints[name] = endpoints[name] or str(found.get(key) or "")
    for name in ("AUTHORIZATION_ENDPOINT", "TOKEN_ENDPOINT", "USERINFO_ENDPOINT", "JWKS_ENDPOINT"):
        if not endpoints[name]:
            raise ImproperlyConfigured(f"VELOWEB_OIDC_{name} is not set (or set VELOWEB_OIDC_ISSUER)")
    default_role = _env("DEFAULT_ROLE")
    if default_role and default_role not in ROLES:
        roles = ", ".join(ROLES)
        raise ImproperlyConfigured(f"VELOWEB_OIDC_DEFAULT_ROLE={default_role!r}: one of {roles}, or empty")
    return {
        "VELOWEB_OIDC_ENABLED": True,
        "VELOWEB_OIDC_ISSUER": issuer,
        "VELOWEB_OIDC_LABEL": _env("LABEL", "Sign in with single sign-on"),
        "VELOWEB_OIDC_GROUPS_CLAIM": _env("GROUPS_CLAIM", "groups"),
        "VELOWEB_OIDC_USERNAME_CLAIM": _env("USERNAME_CLAIM", "preferred_username"),
        "VELOWEB_OIDC_ROLE_MAP": role_map(_env("ROLE_MAP")),
        "VELOWEB_OIDC_DEFAULT_ROLE": default_role,
        "VELOWEB_OIDC_END_SESSION_ENDPOINT": endpoints["END_SESSION_ENDPOINT"],
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": _env("CLIENT_SECRET"),
        "OIDC_RP_SCOPES": _env("SCOPES", "openid email profile"),
        "OIDC_RP_SIGN_ALGO": _env("SIGN_ALGO", "RS256"),
        "OIDC_OP_AUTHORIZATION_ENDPOINT": endpoints["AUTHORIZATION_ENDPOINT"],
        "OIDC_OP_TOKEN_ENDPOINT": endpoints["TOKEN_ENDPOINT"],
        "OIDC_OP_USER_ENDPOINT": endpoints["USERINFO_ENDPOINT"],
        "OIDC_OP_JWKS_ENDPOINT": endpoints["JWKS_ENDPOINT"],
        "OIDC_TOKEN_USE_BASIC_AUTH": _env("TOKEN_AUTH", "post") == "basic",
        "OIDC_USE_PKCE": True,
        "OIDC_STORE_ID_TOKEN": True,  # the id_token_hint of the provider's sign-out
        "OIDC_OP_LOGOUT_URL_METHOD": "backups.services.sso.provider_logout_url",
        "OIDC_TIMEOUT": 10,
        "LOGIN_REDIRECT_URL_FAILURE": "/accounts/login/?sso=failed",
    }
