"""Users and roles in Settings (admins only): create with a one-time password or a chosen one,
disable and enable, reset a password, change a role after a confirmation; the last active admin
can be neither disabled nor demoted, by themselves or anyone."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from backups.models import Account


@pytest.fixture
def admin(client_as):
    return client_as("admin")


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def one_time_password(response) -> str:
    return re.search(r'id="one-time-password">([^<]+)<', response.content.decode()).group(1)


def sign_in(username, password) -> Client | None:
    """A client signed in through the login page (axes wants the request), or None if refused."""
    client = Client()
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return client if response.status_code == 302 else None


def signs_in(username, password) -> bool:
    return sign_in(username, password) is not None


def test_only_admins_manage_users(client_as, make_user):
    someone = make_user("viewer", username="someone")
    for role in ("viewer", "operator"):
        client = client_as(role) if role == "viewer" else Client()
        if role == "operator":
            client.force_login(make_user("operator", username="op"))
        assert client.get("/settings/users/new/").status_code == 403
        assert client.post("/settings/users/new/", {"username": "x"}).status_code == 403
        assert client.post(f"/settings/users/{someone.pk}/active/", {"active": "0"}).status_code == 403
        assert client.post(f"/settings/users/{someone.pk}/password/").status_code == 403
        assert (
            client.post(f"/settings/users/{someone.pk}/role/", {"role": "admin", "confirm": "on"}).status_code
            == 403
        )
    someone.refresh_from_db()
    assert someone.is_active and not User.objects.filter(username="x").exists()
    assert list(someone.groups.values_list("name", flat=True)) == ["viewer"]


def test_create_with_a_one_time_password_that_must_be_changed(admin):
    response = admin.post("/settings/users/new/", {"username": "newbie", "role": "operator"})
    assert response.status_code == 200 and response["Cache-Control"].startswith("max-age=0")
    password = one_time_password(response)
    assert len(password) >= 16 and password not in str(list(response.wsgi_request.session.items()))
    user = User.objects.get(username="newbie")
    assert list(user.groups.values_list("name", flat=True)) == ["operator"]
    assert Account.objects.get(user=user).must_change_password
    client = sign_in("newbie", password)
    assert client.get("/").url == "/accounts/password_change/"  # nothing else first
    assert client.get("/accounts/password_change/").status_code == 200
    new = "a-Much-Better-Pass-91"
    changed = client.post(
        "/accounts/password_change/",
        {"old_password": password, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    assert not Account.objects.get(user=user).must_change_password
    assert client.get("/").status_code == 200 and signs_in("newbie", new)


def test_create_with_a_chosen_password(admin):
    weak = admin.post("/settings/users/new/", {"username": "pat", "role": "viewer", "password": "123"})
    assert "too short" in " ".join(weak.context["form"].errors["password"])
    assert not User.objects.filter(username="pat").exists()
    response = admin.post(
        "/settings/users/new/", {"username": "pat", "role": "viewer", "password": "Viewer-Pass-77"}
    )
    assert response.status_code == 302 and "User pat created." in messages_of(response)
    assert (
        signs_in("pat", "Viewer-Pass-77") and not Account.objects.filter(must_change_password=True).exists()
    )


@pytest.mark.parametrize(
    ("username", "words"),
    [
        ("", "This field is required"),
        ("bad name!", "Enter a valid username"),
        ("Admin-User", "exists already"),
    ],
)
def test_a_bad_username_is_named(admin, username, words):
    response = admin.post("/settings/users/new/", {"username": username, "role": "viewer"})
    assert response.status_code == 200 and words in " ".join(response.context["form"].errors["username"])
    assert User.objects.count() == 1


def test_disable_and_enable(admin, make_user):
    user = make_user("operator", username="olga")
    signed_in = Client()
    signed_in.force_login(user)
    response = admin.post(f"/settings/users/{user.pk}/active/", {"active": "0"})
    assert "olga is disabled." in messages_of(response)
    assert not signs_in("olga", "pw-Secret-123")
    assert signed_in.get("/").status_code == 302  # the open session ends
    assert 'badge cancelled">disabled' in admin.get("/settings/").content.decode()
    admin.post(f"/settings/users/{user.pk}/active/", {"active": "1"})
    assert signs_in("olga", "pw-Secret-123")


def test_reset_password_one_time_or_chosen(admin, make_user):
    user = make_user("viewer", username="vic")
    assert admin.get(f"/settings/users/{user.pk}/password/").status_code == 200
    response = admin.post(f"/settings/users/{user.pk}/password/")
    password = one_time_password(response)
    assert not signs_in("vic", "pw-Secret-123") and signs_in("vic", password)
    assert Account.objects.get(user=user).must_change_password
    chosen = admin.post(f"/settings/users/{user.pk}/password/", {"password": "Chosen-Pass-55"})
    assert chosen.status_code == 302 and signs_in("vic", "Chosen-Pass-55")
    assert not Account.objects.get(user=user).must_change_password
    weak = admin.post(f"/settings/users/{user.pk}/password/", {"password": "vic"})
    assert weak.status_code == 200 and weak.context["form"].errors["password"]
    assert signs_in("vic", "Chosen-Pass-55")


def test_a_role_change_is_confirmed_first(admin, make_user):
    user = make_user("viewer", username="vera")
    other = admin.post(f"/settings/users/{user.pk}/role/", {"role": "operator"}).content.decode()
    assert "From <b>viewer</b> to <b>operator</b>" in other and 'name="role" value="operator"' in other
    asked = admin.post(f"/settings/users/{user.pk}/role/", {"role": "admin"})
    html = asked.content.decode()
    assert asked.status_code == 200 and "From <b>viewer</b> to <b>admin</b>" in html
    assert 'name="confirm" value="on"' in html
    assert list(user.groups.values_list("name", flat=True)) == ["viewer"]
    done = admin.post(f"/settings/users/{user.pk}/role/", {"role": "admin", "confirm": "on"})
    assert "vera is now admin." in messages_of(done)
    assert list(user.groups.values_list("name", flat=True)) == ["admin"]


def test_the_last_admin_can_be_neither_disabled_nor_demoted(client, make_user):
    me = make_user("admin", username="ada")
    client.force_login(me)
    refused = client.post(f"/settings/users/{me.pk}/active/", {"active": "0"})
    assert any("ada is the last active admin" in m for m in messages_of(refused))
    me.refresh_from_db()
    assert me.is_active
    refused = client.post(f"/settings/users/{me.pk}/role/", {"role": "operator", "confirm": "on"})
    assert any("ada is the last active admin" in m for m in messages_of(refused))
    assert list(me.groups.values_list("name", flat=True)) == ["admin"]

    other = make_user("admin", username="bob")
    Client().force_login(other)
    client.post(f"/settings/users/{other.pk}/active/", {"active": "0"})  # bob off: ada is the last again
    assert (
        client.post(f"/settings/users/{me.pk}/role/", {"role": "viewer", "confirm": "on"}).status_code == 302
    )
    assert list(me.groups.values_list("name", flat=True)) == ["admin"]
    client.post(f"/settings/users/{other.pk}/active/", {"active": "1"})
    demoted = client.post(f"/settings/users/{me.pk}/role/", {"role": "viewer", "confirm": "on"})
    assert demoted.status_code == 302 and demoted["Location"] == "/"  # Settings is no longer theirs
    assert list(me.groups.values_list("name", flat=True)) == ["viewer"]
    assert client.get("/settings/").status_code == 403


def test_a_superuser_counts_as_an_admin_and_keeps_the_role(client, make_user):
    root = User.objects.create_superuser("root", password="Root-Pass-123")
    me = make_user("admin", username="ada")
    client.force_login(me)
    response = client.post(f"/settings/users/{root.pk}/role/", {"role": "viewer", "confirm": "on"})
    assert any("superuser" in m for m in messages_of(response))
    assert client.post(f"/settings/users/{me.pk}/active/", {"active": "0"}).status_code == 302
    me.refresh_from_db()
    assert not me.is_active  # root remains an admin
