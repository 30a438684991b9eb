"""/rq/ (django-rq's queue pages, which can empty queues and requeue jobs): Veloweb's admin role
only. Staff status is not a role: a staff viewer gets 403, a non-staff admin gets in."""

import pytest


@pytest.mark.parametrize("url", ["/rq/", "/rq/queues/0/", "/rq/workers/0/"])
def test_signed_out_users_go_to_the_login_page(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("role", [None, "viewer", "operator"])
def test_anyone_but_an_admin_is_refused_even_when_staff(client, make_user, role):
    user = make_user(role)
    user.is_staff = True
    user.save()
    client.force_login(user)
    assert client.get("/rq/").status_code == 403
    assert client.get("/rq/queues/0/").status_code == 403
    assert client.post("/rq/queues/0/empty/").status_code == 403
    assert client.post("/rq/queues/actions/0/", {"action": "delete", "job_ids": ["x"]}).status_code == 403
    assert "/rq/" not in client.get("/").content.decode()  # no "Queues" link either


def test_an_admin_sees_the_queues_without_being_staff(client_as):
    client = client_as("admin")
    home = client.get("/rq/")
    assert home.status_code == 200 and b"default" in home.content
    assert client.get("/rq/queues/0/").status_code == 200
    assert 'href="/rq/"' in client.get("/").content.decode()
    # django-rq's pages carry inline scripts: they alone get a policy allowing them
    assert "'unsafe-inline'" in home["Content-Security-Policy"]
    assert "'unsafe-inline'" not in client.get("/").headers["Content-Security-Policy"]
