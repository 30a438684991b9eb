"""Friendly 403 and 404 pages: in the site's layout, saying what was not found or which right is
missing, with a way back; an htmx request gets the fragment only, retargeted to the main area."""

from backups.models import Backup


def test_404_names_what_was_not_found_in_the_layout(client_as):
    response = client_as("viewer").get("/backups/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no backup at this address." in html
    assert "/backups/999999/" in html
    assert 'id="site-nav"' in html and 'href="/"' in html  # the layout, and the way back
    assert "Not Found</h1>" not in html  # not Django's bare page


def test_404_of_an_unknown_address(client_as):
    response = client_as("viewer").get("/no/such/page/")
    assert response.status_code == 404
    assert "There is no page at this address." in response.content.decode()


def test_404_with_a_reason_says_it(client_as, make_backup):
    backup = make_backup("running", phase=Backup.Phase.IN_PROGRESS)
    response = client_as("viewer").get(f"/backups/{backup.pk}/download/nonsense/")
    assert response.status_code == 404
    assert "No such file" in response.content.decode()


def test_403_names_the_missing_right_and_the_role(client_as):
    response = client_as("viewer").get("/backups/new/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This needs the operator role" in html
    assert "with the <b>viewer</b> role" in html
    assert 'id="site-nav"' in html and "Back to the backups" in html


def test_403_without_any_role(client_as):
    html = client_as(None).get("/").content.decode()
    assert "without any role" in html and "This needs the viewer role" in html


def test_htmx_gets_a_fragment_retargeted_to_main(client_as):
    client = client_as("viewer")
    response = client.get("/settings/", headers={"HX-Request": "true"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "<html" not in html and 'id="error-page"' in html and "This needs the admin role" in html
    assert response["HX-Retarget"] == "#main" and response["HX-Reswap"] == "innerHTML"
    missing = client.get("/backups/424242/", headers={"HX-Request": "true"})
    assert missing.status_code == 404 and "<html" not in missing.content.decode()
    assert "There is no backup at this address." in missing.content.decode()
