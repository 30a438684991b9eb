"""The backups history: newest first, filters, search and pagination."""

import datetime as dt

from django.utils import timezone

from backups.models import Backup, Cluster


def names(response):
    return [b.name for b in response.context["page"]]


def test_newest_first_with_the_columns(client_as, make_backup):
    make_backup("old", phase=Backup.Phase.COMPLETED, items_backed_up=7, size_bytes=2048, errors=1, warnings=2)
    make_backup("new", phase=Backup.Phase.IN_PROGRESS)
    response = client_as("viewer").get("/")
    assert names(response) == ["new", "old"]
    html = response.content.decode()
    for text in ["Completed", "In Progress", "2.0\xa0KB", "sample"]:
        assert text in html


def test_filters_and_search(client_as, make_backup, cluster):
    other = Cluster.objects.create(name="prod")
    make_backup("shop-nightly", phase=Backup.Phase.COMPLETED, included_namespaces=["shop"])
    make_backup("payments-nightly", phase=Backup.Phase.FAILED, included_namespaces=["payments"])
    make_backup("everything", phase=Backup.Phase.COMPLETED)
    Backup.objects.create(name="prod-1", cluster=other, phase=Backup.Phase.COMPLETED)
    client = client_as("viewer")
    assert names(client.get("/", {"phase": "Failed"})) == ["payments-nightly"]
    assert names(client.get("/", {"cluster": other.pk})) == ["prod-1"]
    assert names(client.get("/", {"q": "nightly"})) == ["payments-nightly", "shop-nightly"]
    assert set(names(client.get("/", {"namespace": "shop", "cluster": cluster.pk}))) == {
        "shop-nightly",
        "everything",
    }


def test_date_filter(client_as, make_backup):
    old = make_backup("last-year")
    Backup.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=365))
    make_backup("today")
    client = client_as("viewer")
    since = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert names(client.get("/", {"since": since})) == ["today"]
    assert names(client.get("/", {"until": since})) == ["last-year"]


def test_pagination(client_as, make_backup):
    for i in range(30):
        make_backup(f"b-{i:02d}")
    client = client_as("viewer")
    first = client.get("/")
    assert len(names(first)) == 25 and "Page 1 of 2" in first.content.decode()
    assert names(client.get("/", {"page": 2}))[-1] == "b-00"


def test_htmx_gets_only_the_table(client_as, make_backup):
    make_backup("one")
    response = client_as("viewer").get("/", {"q": "one"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert '<table class="backups">' in html and "<html" not in html
