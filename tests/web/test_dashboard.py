import pytest
from django.urls import reverse

from backups.models import Cluster

KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: emu
contexts:
- name: emu
  context: {cluster: emu-cluster, user: emu-user}
- name: other
  context: {cluster: other-cluster, user: emu-user}
clusters:
- name: emu-cluster
  cluster: {server: "http://127.0.0.1:6443"}
- name: other-cluster
  cluster: {server: "https://other.example:443"}
users:
- name: emu-user
  user: {token: t}
"""


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return path


@pytest.mark.django_db
def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


@pytest.mark.django_db
def test_login_page_loads_htmx_without_cdn(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in html
    assert '<link rel="icon" href="data:,">' in html


@pytest.mark.django_db
def test_home_lists_clusters(admin_client, kubeconfig):
    Cluster.objects.create(name="sample", kubeconfig_path=str(kubeconfig))
    Cluster.objects.create(name="prod", kubeconfig_path=str(kubeconfig), context="other")
    Cluster.objects.create(name="inside", in_cluster=True)
    response = admin_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in [
        "sample",
        "http://127.0.0.1:6443",
        "prod",
        "https://other.example:443",
        "other",
        "in-cluster",
    ]:
        assert text in html


@pytest.mark.django_db
def test_rq_dashboard_and_admin_are_mounted(admin_client):
    assert admin_client.get("/rq/").status_code == 200
    assert admin_client.get("/admin/backups/cluster/").status_code == 200


def test_server_url_is_empty_for_a_missing_kubeconfig(tmp_path):
    assert Cluster(name="x", kubeconfig_path=str(tmp_path / "missing")).server_url() == ""


def test_connect_passes_the_cluster_settings_to_backups_kube(monkeypatch):
    import sys
    import types

    calls = []
    fake = types.ModuleType("backups.kube")
    fake.connect = lambda **kwargs: calls.append(kwargs) or "client"
    monkeypatch.setitem(sys.modules, "backups.kube", fake)

    assert Cluster(name="a", kubeconfig_path="/k", context="c").connect() == "client"
    assert Cluster(name="b", in_cluster=True).connect() == "client"
    assert calls == [
        {"kubeconfig": "/k", "context": "c", "in_cluster": False},
        {"kubeconfig": None, "context": None, "in_cluster": True},
    ]
