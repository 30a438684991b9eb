"""Clusters in Settings: checked on save, a Check button with the recorded status, and a broken
kubeconfig that never turns a page into an error."""

import pytest

from backups.models import Cluster


@pytest.fixture
def admin(client_as):
    return client_as("admin")


def add(client, **fields):
    return client.post("/settings/clusters/new/", {"name": "prod", "context": "", **fields})


def test_a_reachable_cluster_is_saved_with_its_status(admin, emulator):
    response = add(admin, kubeconfig_path=emulator.kubeconfig)
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="prod")
    assert cluster.available is True and cluster.last_checked is not None
    assert cluster.last_check_error == ""


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"kubeconfig_path": "/nonexistent/kubeconfig"}, "kubeconfig_path", "not found"),
        ({"context": "nope"}, "context", "context 'nope' not found"),
    ],
)
def test_a_cluster_that_cannot_be_read_is_refused_at_its_field(admin, emulator, fields, field, text):
    response = add(admin, **{"kubeconfig_path": emulator.kubeconfig, **fields})
    assert response.status_code == 200
    assert text in " ".join(response.context["form"].errors[field])
    assert not Cluster.objects.exists()


def test_an_api_server_that_does_not_answer_is_refused(admin, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
        "clusters: [{name: k, cluster: {server: 'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {}}]\n"
    )
    response = add(admin, kubeconfig_path=str(kubeconfig))
    assert response.status_code == 200
    assert "discovery failed" in " ".join(response.context["form"].non_field_errors())
    assert not Cluster.objects.exists()


def test_check_records_and_shows_the_status(admin, emulator, tmp_path):
    cluster = Cluster.objects.create(name="prod", kubeconfig_path=emulator.kubeconfig)
    response = admin.post(f"/settings/clusters/{cluster.pk}/check/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "reachable" in response.content.decode()
    cluster.refresh_from_db()
    assert cluster.available is True

    cluster.kubeconfig_path = str(tmp_path / "gone")
    cluster.save()
    response = admin.post(f"/settings/clusters/{cluster.pk}/check/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "unreachable" in html and "not found" in html
    cluster.refresh_from_db()
    assert cluster.available is False and "not found" in cluster.last_check_error


@pytest.mark.parametrize(
    "content",
    [
        "- a\n- list\n",  # valid YAML, not a kubeconfig: once a 500 on the home page and Settings
        "clusters: {not: a list}\ncontexts: 5\n",
        "{{{{ not yaml",
        "contexts: [{name: c, context: [1]}]\ncurrent-context: c\n",
    ],
)
def test_a_broken_kubeconfig_never_breaks_a_page(admin, tmp_path, content):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(content)
    Cluster.objects.create(name="broken", kubeconfig_path=str(kubeconfig))
    for url in ("/", "/settings/", "/backups/new/"):
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "broken" in response.content.decode(), url


def test_operators_cannot_check_clusters(client_as):
    cluster = Cluster.objects.create(name="prod", kubeconfig_path="/nonexistent")
    assert client_as("operator").post(f"/settings/clusters/{cluster.pk}/check/").status_code == 403
