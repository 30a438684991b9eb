"""Settings > API tokens: a token is shown once, kept as a hash, used by the API, and revoked by
its user or an admin only."""

import re

from backups.models import ApiToken


def new_token(client, name="ci job"):
    response = client.post("/settings/tokens/", {"name": name})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    return re.search(r'value="(vwt_[^"]+)"', response.content.decode()).group(1), response


def test_a_token_is_shown_once_and_works_with_the_api(client_as):
    client = client_as("operator")
    token, _ = new_token(client)
    row = ApiToken.objects.get()
    assert row.name == "ci job" and token not in row.digest
    listing = client.get("/settings/tokens/").content.decode()
    assert "ci job" in listing and row.prefix in listing and token not in listing
    api = client.get("/api/v1/backups/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 200


def test_a_token_needs_a_name(client_as):
    client = client_as("viewer")
    response = client.post("/settings/tokens/", {"name": "  "})
    assert response.status_code == 400 and b"needs a name" in response.content
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token(client_as):
    client = client_as("viewer")
    token, _ = new_token(client)
    row = ApiToken.objects.get()
    response = client.post(f"/settings/tokens/{row.pk}/revoke/", follow=True)
    assert b"revoked" in response.content
    api = client.get("/api/v1/backups/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 401 and b"revoked" in api.content


def test_only_the_user_or_an_admin_revokes_a_token(client, make_user):
    owner, other, admin = (
        make_user("viewer", "owner"),
        make_user("operator", "other"),
        make_user("admin", "boss"),
    )
    client.force_login(owner)
    new_token(client)
    row = ApiToken.objects.get()
    client.force_login(other)
    assert client.post(f"/settings/tokens/{row.pk}/revoke/").status_code == 403
    assert b"owner" not in client.get("/settings/tokens/").content  # others' tokens are an admin's view
    row.refresh_from_db()
    assert row.revoked is None
    client.force_login(admin)
    assert b"owner" in client.get("/settings/tokens/").content
    client.post(f"/settings/tokens/{row.pk}/revoke/")
    row.refresh_from_db()
    assert row.revoked is not None


def test_signed_out_and_role_less_users_have_no_tokens_page(client, make_user):
    assert client.get("/settings/tokens/").status_code == 302  # to the sign-in page
    client.force_login(make_user(None))
    assert client.get("/settings/tokens/").status_code == 403
    assert client.post("/settings/tokens/", {"name": "x"}).status_code == 403
    assert not ApiToken.objects.exists()
