"""The backups history: newest first, filters, search and pagination."""

import datetime as dt

import pytest
from django.utils import timezone

from backups import queries
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
    assert '<table class="backups" id="history-table">' in html and "<html" not in html


def test_sorts_by_any_column_both_ways_and_stably(client_as, make_backup):
    now = timezone.now()
    make_backup("b-small", phase=Backup.Phase.COMPLETED, size_bytes=10, errors=2, started=now, completed=now)
    make_backup("a-big", phase=Backup.Phase.FAILED, size_bytes=900, errors=0, started=now,
                completed=now + dt.timedelta(minutes=5))  # fmt: skip
    make_backup("c-none", phase=Backup.Phase.QUEUED)
    client = client_as("viewer")
    assert names(client.get("/", {"sort": "name"})) == ["a-big", "b-small", "c-none"]
    assert names(client.get("/", {"sort": "-name"})) == ["c-none", "b-small", "a-big"]
    assert names(client.get("/", {"sort": "-size"})) == ["a-big", "b-small", "c-none"]
    assert names(client.get("/", {"sort": "errors"})) == ["a-big", "c-none", "b-small"]
    assert names(client.get("/", {"sort": "-duration"})) == ["a-big", "b-small", "c-none"]  # never ran: last
    assert names(client.get("/", {"sort": "duration"})) == ["b-small", "a-big", "c-none"]
    assert names(client.get("/", {"sort": "phase"})) == ["b-small", "a-big", "c-none"]
    assert names(client.get("/", {"sort": "nonsense"})) == ["c-none", "a-big", "b-small"]  # newest first


def test_ties_keep_one_order_across_pages(client_as, make_backup):
    for i in range(30):
        make_backup(f"same-{i:02d}", phase=Backup.Phase.COMPLETED)
    client = client_as("viewer")
    first = names(client.get("/", {"sort": "phase"}))
    second = names(client.get("/", {"sort": "phase", "page": 2}))
    assert len(first) == 25 and len(second) == 5 and not set(first) & set(second)


def test_sort_links_keep_the_filters_and_say_the_order(client_as, make_backup):
    make_backup("one", included_namespaces=["shop"])
    html = (
        client_as("viewer").get("/", {"namespace": "shop", "phase": "New", "sort": "name"}).content.decode()
    )
    assert 'aria-sort="ascending"><a href="?namespace=shop&amp;phase=New&amp;sort=-name"' in html
    assert 'href="?namespace=shop&amp;phase=New&amp;sort=size"' in html
    assert 'name="sort" value="name" form="history-filters"' in html  # a filter change keeps the sort


def test_the_pager_keeps_filters_and_sort(client_as, make_backup):
    for i in range(30):
        make_backup(f"p-{i:02d}")
    html = client_as("viewer").get("/", {"q": "p-", "sort": "-name"}).content.decode()
    assert 'href="?q=p-&amp;sort=-name&amp;page=2"' in html


@pytest.mark.parametrize("shapes_at_once", [500, 2])  # each list decided once, or each row (many lists)
def test_namespace_filter_matches_globs_as_the_backup_does(
    client_as, make_backup, monkeypatch, shapes_at_once
):
    monkeypatch.setattr(queries, "MAX_NAMESPACE_SHAPES", shapes_at_once)
    make_backup("glob", included_namespaces=["pay*"])
    make_backup("named", included_namespaces=["payments"])
    make_backup("all")
    make_backup("shop", included_namespaces=["shop"])
    make_backup("all-but", excluded_namespaces=["payments"])
    make_backup("wider", included_namespaces=["p*"], excluded_namespaces=["pay*"])
    make_backup("named-too", included_namespaces=["payments"])  # a list shared by two backups
    client = client_as("viewer")
    assert set(names(client.get("/", {"namespace": "payments"}))) == {"glob", "named", "named-too", "all"}
    assert set(names(client.get("/", {"namespace": "pay*"}))) == {
        "glob",
        "named",
        "named-too",
        "all",
        "all-but",
    }
    assert set(names(client.get("/", {"namespace": "shop"}))) == {"all", "shop", "all-but"}
    assert set(names(client.get("/", {"namespace": "pay*", "q": "all"}))) == {"all", "all-but"}


def test_a_history_restore_request_gets_the_whole_page(client_as, make_backup):
    """htmx asks the server for the page on Back when it has no copy: the whole page, filled in."""
    make_backup("one", included_namespaces=["shop"])
    response = client_as("viewer").get(
        "/", {"namespace": "shop"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    html = response.content.decode()
    assert "<html" in html and 'name="namespace" value="shop"' in html


def test_the_htmx_fragment_is_never_cached_so_back_loads_the_page(client_as):
    client = client_as("viewer")
    fragment = client.get("/", {"q": "x"}, HTTP_HX_REQUEST="true")
    assert "no-store" in fragment["Cache-Control"] and "HX-Request" in fragment["Vary"]
    assert "HX-Request" in client.get("/", {"q": "x"})["Vary"]
