"""Inside backups: the items page, one item (JSON/YAML, Secrets redacted for those who may not
download), the index built on first open, the backups holding an item, the diff of two backups,
one item against the live cluster, and the clear 404s."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.contrib.auth.models import Group

from backups.models import Backup, Cluster, StorageLocation
from backups.services import backup_contents
from tests.stored_backups import configmap, deployment, secret, write_backup

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PASSWORD = "c3VwZXItc2VjcmV0"  # base64 of super-secret


def objects_v1():
    return [
        configmap("shop", "web-config", {"color": "blue", "size": "L"}),
        configmap("shop", "old-config", {"a": "1"}),
        secret("shop", "db", {"password": PASSWORD}),
        deployment("shop", "web", 2, "web:1.0"),
        configmap("pay", "cfg", {"x": "y"}),
    ]


def objects_v2():
    return [
        configmap("shop", "web-config", {"color": "green", "size": "L"}),
        secret("shop", "db", {"password": "bmV3LXNlY3JldA=="}),
        deployment("shop", "web", 3, "web:1.1"),
        configmap("pay", "cfg", {"x": "y"}),
        configmap("shop", "new-config", {"b": "2"}),
    ]


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    os.makedirs(settings.DATA_DIR, exist_ok=True)


@pytest.fixture
def location(db, tmp_path):
    return StorageLocation.objects.create(name="here", path=str(tmp_path / "store"))


@pytest.fixture
def two_backups(make_backup, location, tmp_path):
    root = str(tmp_path / "store")
    write_backup(root, "shop-1", objects_v1())
    write_backup(root, "shop-2", objects_v2())
    done = Backup.Phase.COMPLETED
    first = make_backup("shop-1", phase=done, storage_location=location, started=T0, completed=T0)
    later = T0 + timedelta(hours=1)
    second = make_backup("shop-2", phase=done, storage_location=location, started=later, completed=later)
    return first, second


def test_the_items_page_browses_by_type_and_namespace_and_searches(client_as, two_backups):
    first, _ = two_backups
    client = client_as("viewer")
    html = client.get(f"/backups/{first.pk}/items/").content.decode()
    assert "5 items" in html and "deployments.apps" in html and "web-config" in html
    html = client.get(f"/backups/{first.pk}/items/", {"resource": "configmaps"}).content.decode()
    assert "web-config" in html and "cfg" in html and ">web<" not in html
    html = client.get(
        f"/backups/{first.pk}/items/", {"resource": "configmaps", "namespace": "pay"}
    ).content.decode()
    assert ">cfg<" in html and "web-config" not in html and "1 item" in html
    html = client.get(f"/backups/{first.pk}/items/", {"q": "WEB"}).content.decode()
    assert "web-config" in html and ">web<" in html and "old-config" not in html
    html = client.get(f"/backups/{first.pk}/items/", {"q": "nothing-like-it"}).content.decode()
    assert "No item matches." in html
    # htmx asks for the table only
    part = client.get(f"/backups/{first.pk}/items/", {"q": "cfg"}, HTTP_HX_REQUEST="true").content.decode()
    assert part.lstrip().startswith('<div id="items-table">') and "<html" not in part


def test_the_items_page_is_paginated_server_side(client_as, make_backup, location, tmp_path, monkeypatch):
    monkeypatch.setattr(backup_contents, "PER_PAGE", 4)
    objects = [configmap("many", f"cm-{n:02d}", {"n": str(n)}) for n in range(10)]
    write_backup(str(tmp_path / "store"), "many-1", objects)
    backup = make_backup("many-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    client = client_as("viewer")
    html = client.get(f"/backups/{backup.pk}/items/", {"page": "2"}).content.decode()
    assert "cm-04" in html and "cm-07" in html and "cm-03" not in html and "cm-08" not in html
    assert "Page 2 of 3 (10)" in html
    html = client.get(f"/backups/{backup.pk}/items/", {"page": "99"}).content.decode()
    assert "Page 3 of 3" in html and "cm-09" in html  # past the end: the last page
    html = client.get(f"/backups/{backup.pk}/items/", {"page": "junk"}).content.decode()
    assert "Page 1 of 3" in html


def item_url(backup, resource, namespace, name, **extra):
    query = {"resource": resource, "namespace": namespace, "name": name, **extra}
    return f"/backups/{backup.pk}/item/", query


def test_one_item_as_json_and_yaml(client_as, two_backups):
    first, _ = two_backups
    client = client_as("viewer")
    url, query = item_url(first, "configmaps", "shop", "web-config")
    html = client.get(url, query).content.decode()
    assert "&quot;color&quot;: &quot;blue&quot;" in html
    response = client.get(url, {**query, "format": "yaml"})
    text = response.content.decode()
    assert "color: blue" in text and "kind: ConfigMap" in text
    url, query = item_url(first, "deployments.apps", "shop", "web", format="yaml")
    assert "image: web:1.0" in client.get(url, query).content.decode()


def secret_text(client, backup) -> str:
    url, query = item_url(backup, "secrets", "shop", "db", format="yaml")
    response = client.get(url, query)
    assert response.status_code == 200
    return response.content.decode()


def test_secrets_are_redacted_unless_the_user_may_download(client_as, two_backups, make_user, client):
    first, _ = two_backups
    viewer_page = secret_text(client_as("viewer"), first)
    assert PASSWORD not in viewer_page and "password: (redacted)" in viewer_page
    assert 'id="redacted-note"' in viewer_page
    operator_page = secret_text(client_as("operator"), first)
    assert f"password: {PASSWORD}" in operator_page and "redacted-note" not in operator_page
    downloader = make_user("viewer", username="viewer-downloads")
    downloader.groups.add(Group.objects.get_or_create(name="downloader")[0])
    client.force_login(downloader)
    assert f"password: {PASSWORD}" in secret_text(client, first)


def test_an_imported_backup_is_indexed_by_a_job_on_first_open_and_the_index_stored(
    client_as, make_backup, location, tmp_path, django_capture_on_commit_callbacks
):
    import django_rq

    from backups.services import backup_indexes

    folder = write_backup(str(tmp_path / "store"), "old-1", objects_v1(), index=False)
    backup = make_backup("old-1", phase=Backup.Phase.COMPLETED, storage_location=location, imported=True)
    stored = os.path.join(folder, "old-1-veloweb-index.tsv.gz")
    client = client_as("viewer")
    with django_capture_on_commit_callbacks(execute=True):  # django-rq enqueues on commit
        response = client.get(f"/backups/{backup.pk}/items/")
    assert response.status_code == 202 and "is being built now" in response.content.decode()
    assert f"/backups/{backup.pk}/index-status/" in response.content.decode()  # polled until ready
    queue = django_rq.get_queue("default")
    job = queue.fetch_job(backup_indexes.index_job_id(backup.pk))
    assert job is not None and job.args == (backup.pk,)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/backups/{backup.pk}/items/").status_code == 202  # one job, not two
    assert len([j for j in queue.get_job_ids() if j == job.id]) == 1
    assert client.get(f"/backups/{backup.pk}/index-status/").status_code == 204
    job.cancel()
    job.delete()
    backup_indexes.build(backup.pk)  # what the worker runs
    ready = client.get(f"/backups/{backup.pk}/index-status/")
    assert ready.status_code == 200 and ready["HX-Refresh"] == "true"
    html = client.get(f"/backups/{backup.pk}/items/").content.decode()
    assert "5 items" in html
    with gzip.open(stored, "rt") as f:  # stored beside the backup for the next install
        assert '"items":5' in f.readline()
    # read-only location: built, kept locally only, the location untouched
    ro = StorageLocation.objects.create(name="ro", path=str(tmp_path / "ro"), read_only=True)
    folder = write_backup(str(tmp_path / "ro"), "ro-1", objects_v1(), index=False)
    backup = make_backup("ro-1", phase=Backup.Phase.COMPLETED, storage_location=ro, imported=True)
    backup_indexes.build(backup.pk)
    url, query = item_url(backup, "configmaps", "shop", "web-config")
    assert "blue" in client_as("operator").get(url, query).content.decode()
    assert sorted(os.listdir(folder)) == sorted(f for f in os.listdir(folder) if "index" not in f)


def test_bad_ids_and_missing_items_are_404_with_a_clear_message(client_as, two_backups, make_backup):
    first, second = two_backups
    client = client_as("viewer")
    for url, query, message in [
        ("/backups/987654/items/", {}, "there is no backup with id 987654"),
        (
            "/backups/987654/item/",
            {"resource": "configmaps", "name": "x"},
            "there is no backup with id 987654",
        ),
        (f"/backups/{first.pk}/item/", {}, "an item is named by its resource and name"),
        (
            f"/backups/{first.pk}/item/",
            {"resource": "configmaps", "namespace": "shop", "name": "nope"},
            "backup shop-1 holds no configmaps shop/nope",
        ),
        (
            f"/backups/{first.pk}/item/",
            {"resource": "configmaps", "namespace": "shop", "name": "web-config", "format": "xml"},
            "unknown format",
        ),
        (
            f"/backups/{first.pk}/item/",
            {"resource": "configmaps", "namespace": "shop", "name": "web-config\tv1"},
            "holds no tab, line break",
        ),
        (f"/backups/{first.pk}/diff/", {"with": "junk"}, "&#x27;with&#x27; must be a backup id"),
        (f"/backups/{first.pk}/diff/", {"with": "987654"}, "there is no backup with id 987654"),
        (f"/backups/{first.pk}/diff/", {"with": str(first.pk)}, "compared with itself"),
        (f"/backups/{first.pk}/diff/", {"with": str(second.pk), "status": "odd"}, "unknown status"),
    ]:
        response = client.get(url, query)
        assert response.status_code == 404, url
        assert message in response.content.decode(), (url, query)
    running = make_backup("running-1", phase=Backup.Phase.IN_PROGRESS)
    response = client.get(f"/backups/{running.pk}/items/")
    assert response.status_code == 404 and "only a finished backup has contents" in response.content.decode()
    assert client.get("/backups/99999999999999999999/items/").status_code == 404  # no such id at all


def test_a_failed_index_build_says_why_once(client_as, make_backup, tmp_path):
    from backups.services import backup_indexes

    gone = StorageLocation.objects.create(name="gone", path=str(tmp_path / "never-made"))
    backup = make_backup("lost-1", phase=Backup.Phase.COMPLETED, storage_location=gone)
    client = client_as("viewer")
    assert client.get(f"/backups/{backup.pk}/items/").status_code == 202
    backup_indexes.build(backup.pk)  # the tarball is not there
    assert client.get(f"/backups/{backup.pk}/index-status/")["HX-Refresh"] == "true"
    response = client.get(f"/backups/{backup.pk}/items/")
    assert response.status_code == 404
    assert "the tarball of lost-1 is missing from gone" in response.content.decode()
    assert client.get(f"/backups/{backup.pk}/items/").status_code == 202  # asked again: tried again


def test_pages_need_a_role(client, make_user, two_backups):
    first, _ = two_backups
    assert client.get(f"/backups/{first.pk}/items/").status_code == 302  # to the login page
    client.force_login(make_user(None))
    for url in [f"/backups/{first.pk}/items/", f"/backups/{first.pk}/diff/", "/items/search/"]:
        assert client.get(url).status_code == 403, url


def test_which_backups_hold_an_item_and_when_it_changed(
    client_as, two_backups, make_backup, location, tmp_path
):
    first, second = two_backups
    later = T0 + timedelta(hours=2)
    write_backup(str(tmp_path / "store"), "shop-3", objects_v2())
    third = make_backup("shop-3", phase=Backup.Phase.COMPLETED, storage_location=location, started=later)
    client = client_as("viewer")
    html = client.get("/items/search/", {"resource": "configmap", "namespace": "shop", "name": "web-config"})
    html = html.content.decode()
    assert "in 3 of 3 backups, 2 versions" in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert [r.split("</a>")[0].rsplit(">", 1)[1] for r in rows] == ["shop-3", "shop-2", "shop-1"]
    assert "same" in rows[0] and "changed" in rows[1] and "first seen" in rows[2]
    html = client.get(
        "/items/search/", {"resource": "cm", "namespace": "shop", "name": "old-config"}
    ).content.decode()
    assert "in 1 of 3 backups" in html and "not in this backup" in html
    # a backup without an index is listed as such, not scanned
    write_backup(str(tmp_path / "store"), "shop-0", objects_v1(), index=False)
    make_backup(
        "shop-0", phase=Backup.Phase.COMPLETED, storage_location=location, started=T0 - timedelta(hours=1)
    )
    html = client.get("/items/search/", {"resource": "configmaps", "namespace": "shop", "name": "web-config"})
    assert 'id="not-indexed"' in html.content.decode() and ">shop-0<" in html.content.decode()
    assert third.pk


def test_the_diff_of_two_backups(client_as, two_backups):
    first, second = two_backups
    client = client_as("operator")
    html = client.get(f"/backups/{second.pk}/diff/").content.decode()  # the previous one by default
    assert "shop-1 → shop-2" in html
    assert "Added <small>1</small>" in html and "Removed <small>1</small>" in html
    assert "Changed <small>3</small>" in html
    assert "data.color" in html and ">blue<" in html and ">green<" in html
    assert "spec.replicas" in html and "spec.template.spec.containers[0].image" in html
    assert "new-config" in html and "old-config" in html
    assert "data.password" in html and PASSWORD in html  # an operator may download: values shown
    html = client.get(f"/backups/{first.pk}/diff/", {"with": second.pk, "status": "added"}).content.decode()
    assert "new-config" in html and "old-config" not in html and "shop-1 → shop-2" in html
    html = client.get(f"/backups/{first.pk}/diff/", {"with": second.pk, "resource": "deployments.apps"})
    assert "Changed <small>1</small>" in html.content.decode() and "web-config" not in html.content.decode()
    viewer_html = client_as("viewer").get(f"/backups/{second.pk}/diff/").content.decode()
    assert (
        "data.password" in viewer_html
        and PASSWORD not in viewer_html
        and "bmV3LXNlY3JldA==" not in viewer_html
    )
    # no earlier backup: the page says so and offers the others
    html = client.get(f"/backups/{first.pk}/diff/").content.decode()
    assert 'id="no-other"' in html and "shop-2" in html


def test_the_backup_page_links_inside(client_as, two_backups):
    first, _ = two_backups
    html = client_as("viewer").get(f"/backups/{first.pk}/").content.decode()
    assert f'href="/backups/{first.pk}/items/"' in html and f'href="/backups/{first.pk}/diff/"' in html


def test_one_item_against_the_live_cluster(client_as, make_backup, location, tmp_path, emulator):
    from backups.kube import connect

    cluster = Cluster.objects.create(name="live", kubeconfig_path=emulator.kubeconfig)
    source = connect(emulator.kubeconfig)
    try:
        table = source.resources()
        live = next(iter(source.list(table.by_group_resource("configmaps"), "shop")))
    finally:
        source.close()
    name = live["metadata"]["name"]
    changed = {**live, "data": {**(live.get("data") or {}), "added-later": "x"}}
    changed["metadata"] = {**live["metadata"], "resourceVersion": "1"}
    gone = configmap("shop", "deleted-since", {"a": "b"})
    write_backup(str(tmp_path / "store"), "live-1", [changed, gone])
    backup = make_backup("live-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    Backup.objects.filter(pk=backup.pk).update(cluster=cluster)
    client = client_as("viewer")
    html = client.get(
        f"/backups/{backup.pk}/item/live/", {"resource": "configmaps", "namespace": "shop", "name": name}
    )
    html = html.content.decode()
    assert "data.added-later" in html and "(absent)" in html
    assert "metadata.resourceVersion</code>" in html  # named as not compared, not listed as a change
    assert '<td class="key">metadata.resourceVersion</td>' not in html
    html = client.get(
        f"/backups/{backup.pk}/item/live/",
        {"resource": "configmaps", "namespace": "shop", "name": "deleted-since"},
    ).content.decode()
    assert 'id="not-live"' in html
    imported = make_backup("imp-1", phase=Backup.Phase.COMPLETED, storage_location=location, imported=True)
    Backup.objects.filter(pk=imported.pk).update(cluster=None)
    write_backup(str(tmp_path / "store"), "imp-1", [gone])  # with its index
    response = client.get(
        f"/backups/{imported.pk}/item/live/",
        {"resource": "configmaps", "namespace": "shop", "name": "deleted-since"},
    )
    assert (
        response.status_code == 404 and "the cluster it came from is not known" in response.content.decode()
    )
    assert yaml  # the YAML renderer is PyYAML (a runtime dependency)


def test_compare_from_the_history(client_as, two_backups):
    first, second = two_backups
    client = client_as("viewer")
    html = client.get("/").content.decode()
    assert 'href="/compare/"' in html and 'href="/items/search/"' in html
    html = client.get("/compare/").content.decode()
    # the newest backup and the one before it of the same cluster are preselected
    assert (
        f'<option value="{second.pk}" selected>' in html and f'<option value="{first.pk}" selected>' in html
    )
    response = client.get("/compare/", {"backup": second.pk, "with": first.pk})
    assert (
        response.status_code == 302 and response["Location"] == f"/backups/{second.pk}/diff/?with={first.pk}"
    )
    response = client.get("/compare/", {"backup": "x", "with": first.pk})
    assert response.status_code == 404 and "pick two backups" in response.content.decode()
    response = client.get("/compare/", {"backup": "987654", "with": first.pk})
    assert response.status_code == 404 and "there is no backup with id 987654" in response.content.decode()


def test_deleting_a_backup_drops_its_cached_index(client_as, two_backups):
    from backups.services.backup_indexes import cache_path

    first, _ = two_backups
    client = client_as("operator")
    assert client.get(f"/backups/{first.pk}/items/").status_code == 200
    cached = cache_path(first)
    assert cached.exists()
    assert client.post(f"/backups/{first.pk}/delete/").status_code == 302
    assert not cached.exists() and not Backup.objects.filter(pk=first.pk).exists()


def test_pages_of_one_namespace_of_one_type_and_unfiltered_pages(
    client_as, make_backup, location, tmp_path, monkeypatch
):
    """The unfiltered pages take their count from the index's header; one namespace of one type
    is a range of the index: the same rows as a full pass would give."""
    monkeypatch.setattr(backup_contents, "PER_PAGE", 3)
    objects = [configmap(ns, f"cm-{n}", {"n": str(n)}) for ns in ("a", "b", "c") for n in range(4)]
    objects += [secret("b", "s-1", {"x": "eQ=="})]
    write_backup(str(tmp_path / "store"), "ranges-1", objects)
    backup = make_backup("ranges-1", phase=Backup.Phase.COMPLETED, storage_location=location)
    client = client_as("viewer")

    def names(**query):
        html = client.get(f"/backups/{backup.pk}/items/", query).content.decode()
        body = html.split("<tbody>")[1].split("</tbody>")[0]
        return [cell.split("</a>")[0].rsplit(">", 1)[1] for cell in body.split('class="key"><a')[1:]], html

    found, html = names(resource="configmaps", namespace="b", page="2")
    assert found == ["cm-3"] and "Page 2 of 2 (4)" in html
    found, html = names(page="5")  # past the end: the last page
    assert found == ["s-1"] and "Page 5 of 5 (13)" in html
    found, html = names(resource="configmaps", page="1")
    assert found == ["cm-0", "cm-1", "cm-2"] and "(12)" in html
    found, _ = names(namespace="b", page="2")
    assert found == ["cm-3", "s-1"]


def test_resource_names_resolve_as_kubectl_and_custom_kinds_by_the_indexes():
    resolve = backup_contents.resolve_resource
    assert resolve("cm") == resolve("ConfigMap") == resolve("configmap") == "configmaps"
    assert resolve("deploy") == "deployments.apps" and resolve("") == ""
    known = {"widgets.example.com", "gadgets.example.com", "gadgets.other.io"}
    assert resolve("Widget", known) == resolve("widgets", known) == "widgets.example.com"
    assert resolve("gadget", known) == "gadget"  # two groups serve it: the user names one
    assert resolve("gadgets.other.io", known) == "gadgets.other.io"
