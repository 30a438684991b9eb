"""Single sign-on's settings from VELOWEB_OIDC_*: off when unset, bad values stop the start with
their name and the reason; the role of a groups claim (the highest mapped role, else the default)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from backups.services import sso
from veloweb import oidc_settings

ENDPOINTS = {
    "VELOWEB_OIDC_AUTHORIZATION_ENDPOINT": "https://id.example.org/auth",
    "VELOWEB_OIDC_TOKEN_ENDPOINT": "https://id.example.org/token",
    "VELOWEB_OIDC_USERINFO_ENDPOINT": "https://id.example.org/userinfo",
    "VELOWEB_OIDC_JWKS_ENDPOINT": "https://id.example.org/jwks",
}


@pytest.fixture
def env(monkeypatch):
    for name in [*ENDPOINTS, "VELOWEB_OIDC_CLIENT_ID", "VELOWEB_OIDC_ISSUER", "VELOWEB_OIDC_ROLE_MAP"]:
        monkeypatch.delenv(name, raising=False)

    def set_(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_


def test_off_without_a_client_id(env):
    env(**ENDPOINTS)
    assert oidc_settings.oidc_settings() == {"VELOWEB_OIDC_ENABLED": False}


def test_on_with_endpoints_and_a_role_map(env):
    env(**ENDPOINTS, VELOWEB_OIDC_CLIENT_ID="veloweb", VELOWEB_OIDC_ROLE_MAP="ops = operator, admins=admin")
    found = oidc_settings.oidc_settings()
    assert found["VELOWEB_OIDC_ENABLED"] and found["OIDC_OP_TOKEN_ENDPOINT"] == "https://id.example.org/token"
    assert found["VELOWEB_OIDC_ROLE_MAP"] == {"ops": "operator", "admins": "admin"}
    assert found["OIDC_RP_SCOPES"] == "openid email profile"
    assert found["VELOWEB_OIDC_GROUPS_CLAIM"] == "groups"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"VELOWEB_OIDC_ROLE_MAP": "ops=superuser"}, "'ops=superuser': the role must be one of viewer"),
        ({"VELOWEB_OIDC_ROLE_MAP": "ops"}, "'ops' is not GROUP=ROLE"),
        ({"VELOWEB_OIDC_DEFAULT_ROLE": "root"}, "VELOWEB_OIDC_DEFAULT_ROLE='root'"),
        ({"VELOWEB_OIDC_TOKEN_ENDPOINT": ""}, "VELOWEB_OIDC_TOKEN_ENDPOINT is not set"),
        ({"VELOWEB_OIDC_ISSUER": "id.example.org"}, "give the provider's http(s) URL"),
        ({"VELOWEB_OIDC_ISSUER": "http://127.0.0.1:9/", "VELOWEB_OIDC_JWKS_ENDPOINT": ""}, "cannot read"),
    ],
)
def test_bad_values_name_the_variable(env, values, message):
    env(**{**ENDPOINTS, "VELOWEB_OIDC_CLIENT_ID": "veloweb", **values})
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")):
        oidc_settings.oidc_settings()


def test_the_highest_mapped_role_wins(settings):
    settings.VELOWEB_OIDC_GROUPS_CLAIM = "groups"
    settings.VELOWEB_OIDC_ROLE_MAP = {"readers": "viewer", "ops": "operator", "admins": "admin"}
    settings.VELOWEB_OIDC_DEFAULT_ROLE = ""
    assert sso.role_for(sso.groups_of({"groups": ["readers", "ops", "x"]})) == "operator"
    assert sso.role_for(sso.groups_of({"groups": "admins readers"})) == "admin"
    assert sso.role_for(sso.groups_of({"groups": ["marketing"]})) == ""
    assert sso.role_for(sso.groups_of({})) == ""
    settings.VELOWEB_OIDC_DEFAULT_ROLE = "viewer"
    assert sso.role_for(sso.groups_of({"groups": [{"odd": 1}]})) == "viewer"
