"""The restore pages and their rights, through Django's client: the Restore button and form on a
backup's page (inline checks, refusals that save nothing), the dry run's page and filters, a
restore's page and live fragments, the history, cancel and delete. Real runs are in
tests/runs/test_restore_flow.py; the browser's in tests/browser/test_restore_flow.py."""

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from backups.engine.restore import FieldDiff, PlannedItem, RestorePlan, Tier
from backups.engine.velero_format.layout import restore_file_key
from backups.live.render import RENDERERS
from backups.models import Backup, Restore, RestoreLogEntry, RestoreTier, StorageLocation
from backups.services import restores as restore_services

Phase = Restore.Phase


@pytest.fixture(autouse=True)
def folders(settings, tmp_path):
    settings.VELOWEB_STAGING_DIR = tmp_path / "staging"
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def location(db, tmp_path):
    return StorageLocation.objects.create(name="local", path=str(tmp_path / "storage"), default=True)


@pytest.fixture
def completed(make_backup, location):
    return make_backup(
        "nightly-1", phase=Backup.Phase.COMPLETED, storage_location=location, items_backed_up=12
    )


@pytest.fixture
def restore(completed):
    return Restore.objects.create(
        name="nightly-1-r",
        backup=completed,
        backup_name=completed.name,
        cluster=completed.cluster,
        storage_location=completed.storage_location,
        phase=Phase.IN_PROGRESS,
        started=timezone.now(),
        total_items=5,
        items_restored=2,
        items_skipped=1,
        total_tiers=2,
        current_tier=1,
        warnings=1,
        errors=1,
        namespace_mapping={"shop": "shop-copy"},
    )


def test_the_restore_button_shows_on_a_finished_backup_for_operators_only(client_as, completed, make_backup):
    client = client_as("operator")
    page = client.get(f"/backups/{completed.pk}/").content.decode()
    assert f'href="/backups/{completed.pk}/restore/"' in page
    failed = make_backup("broken-1", phase=Backup.Phase.FAILED)
    assert "/restore/" not in client.get(f"/backups/{failed.pk}/").content.decode()


def test_viewers_read_restores_but_cannot_restore(client_as, completed, restore):
    viewer = client_as("viewer")
    assert viewer.get("/restores/").status_code == 200
    assert viewer.get(f"/restores/{restore.pk}/").status_code == 200
    assert "restore-backup" not in viewer.get(f"/backups/{completed.pk}/").content.decode()
    assert viewer.get(f"/backups/{completed.pk}/restore/").status_code == 403
    form = {"cluster": completed.cluster_id, "name": "r1", "workers": "4", "restore": "1"}
    assert viewer.post(f"/backups/{completed.pk}/restore/", form).status_code == 403
    assert viewer.post(f"/backups/{completed.pk}/restore/check/", {}).status_code == 403
    assert viewer.post(f"/restores/{restore.pk}/cancel/").status_code == 403
    assert Restore.objects.count() == 1 and Restore.objects.get().phase == Phase.IN_PROGRESS


def test_the_form_preselects_the_backups_cluster_and_velero_s_default_name(client_as, completed):
    page = client_as("operator").get(f"/backups/{completed.pk}/restore/").content.decode()
    assert f'<option value="{completed.cluster_id}" selected>' in page
    assert 'value="nightly-1-20' in page  # <backup>-<timestamp>


def test_inline_checks_name_the_field_and_save_nothing(client_as, completed):
    response = client_as("operator").post(
        f"/backups/{completed.pk}/restore/check/",
        {"cluster": completed.cluster_id, "name": "r1", "namespace_mapping": "shop", "workers": "4",
         "label_selector": "app in (", "or_label_selectors": ""},
    )  # fmt: skip
    notes = response.content.decode()
    assert 'id="notes-namespace_mapping" aria-live="polite" hx-swap-oob="true"' in notes
    assert "invalid mapping &#x27;shop&#x27;: expected old:new" in notes
    assert "app in (" in notes.split('id="notes-label_selector"')[1].split("</div>")[0]
    assert not Restore.objects.exists()


def test_a_bad_form_is_shown_again_with_its_errors(client_as, completed):
    response = client_as("operator").post(
        f"/backups/{completed.pk}/restore/",
        {"cluster": completed.cluster_id, "name": "Bad Name", "workers": "4", "restore": "1"},
    )
    assert response.status_code == 200
    assert "invalid restore name" in response.content.decode()
    assert not Restore.objects.exists()


def test_a_failed_backup_cannot_be_restored(client_as, make_backup, location):
    failed = make_backup("broken-1", phase=Backup.Phase.FAILED, storage_location=location)
    response = client_as("operator").get(f"/backups/{failed.pk}/restore/", follow=True)
    assert "only Completed or PartiallyFailed backups can be restored" in response.content.decode()
    with pytest.raises(restore_services.NotRestorable):
        restore_services.create_restore("r1", failed, failed.cluster)
    assert not Restore.objects.exists()


def test_restore_starts_it_and_a_second_post_of_the_form_finds_the_same_restore(
    client_as, completed, django_capture_on_commit_callbacks
):
    client = client_as("operator")
    data = {"cluster": completed.cluster_id, "name": "r-web", "workers": "4", "request_token": "t" * 32,
            "namespace_mapping": "shop:shop-copy", "existing_resource_policy": "update",
            "restore": "1"}  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/backups/{completed.pk}/restore/", data)
    restore = Restore.objects.get()
    assert response.status_code == 302 and response.url == f"/restores/{restore.pk}/"
    assert restore.phase == Phase.NEW and restore.job_id.startswith("dispatch-") and restore.attempt == 1
    assert restore.namespace_mapping == {"shop": "shop-copy"} and restore.existing_resource_policy == "update"
    assert len(callbacks) == 1  # the dispatch job, enqueued once committed
    again = client.post(f"/backups/{completed.pk}/restore/", data)
    assert again.url == f"/restores/{restore.pk}/" and Restore.objects.count() == 1


def test_options_velero_refuses_make_a_failed_validation_restore(completed):
    restore = restore_services.create_restore(
        "r-bad", completed, completed.cluster, namespace_mapping={"a": "x", "b": "x"}
    )
    assert restore.phase == Phase.FAILED_VALIDATION and not restore.job_id
    assert any("both mapped to 'x'" in e for e in restore.validation_errors)


def test_a_taken_name_saves_nothing(completed, restore):
    with pytest.raises(restore_services.RestoreExists):
        restore_services.create_restore(restore.name, completed, completed.cluster)
    assert Restore.objects.count() == 1


def make_plan() -> RestorePlan:
    def item(resource, ns, name, action, reason="", diff=(), group=""):
        return PlannedItem(group, "v1", resource, ns, name, action, reason, diff, ns, "", -1, 0)

    return RestorePlan(
        [
            Tier("namespaces", [item("namespaces", "", "shop", "skip", "exists, identical")]),
            Tier(
                "*",
                [
                    item("configmaps", "shop", "settings", "conflict", "exists, differs",
                         (FieldDiff("data.color", "blue", "red"),)),  # fmt: skip
                    item("configmaps", "shop", "new-one", "create"),
                    item("deployments", "shop", "web", "excluded", "resource not included", group="apps"),
                ],
            ),
        ],
        dry_run=True,
        warnings=["a warning of the plan"],
    )


def test_the_dry_run_page_counts_filters_and_shows_diffs(client_as, completed):
    token = restore_services.save_dry_run(make_plan(), completed, completed.cluster, {"workers": 4})
    client = client_as("operator")
    page = client.get(f"/restores/dry-runs/{token}/").content.decode()
    assert 'id="count-conflict">1<' in page and 'id="count-create">1<' in page
    assert 'id="count-excluded">1<' in page and "a warning of the plan" in page
    assert "deployments.apps" in page and "(cluster scope)" in page
    table = client.get(f"/restores/dry-runs/{token}/", {"action": "conflict"}, HTTP_HX_REQUEST="true")
    rows = table.content.decode()
    assert "<html" not in rows and "settings" in rows and "new-one" not in rows
    assert "data.color" in rows and "red" in rows and "blue" in rows
    by_ns = client.get(f"/restores/dry-runs/{token}/", {"namespace": "-"}, HTTP_HX_REQUEST="true")
    assert ">shop<" in by_ns.content.decode() and "settings" not in by_ns.content.decode()
    assert client.get("/restores/dry-runs/not-a-token/").status_code == 404
    assert client_as("viewer").get(f"/restores/dry-runs/{token}/").status_code == 403


def test_the_restore_page_shows_tiers_and_problems_per_namespace_and_renders_live(client_as, restore):
    RestoreTier.objects.create(restore=restore, index=0, label="namespaces", item_count=1, restored=1,
                               started=timezone.now())  # fmt: skip
    RestoreTier.objects.create(restore=restore, index=1, label="configmaps", item_count=4, restored=1,
                               skipped=1, started=timezone.now())  # fmt: skip
    RestoreLogEntry.objects.create(restore=restore, level="warning", namespace="shop-copy", time=1.0,
                                   message="could not restore, settings already exists")  # fmt: skip
    RestoreLogEntry.objects.create(restore=restore, level="error", namespace="", resource="velero", time=2.0,
                                   message="something of Velero's own")  # fmt: skip
    page = client_as("viewer").get(f"/restores/{restore.pk}/").content.decode()
    assert 'ws-connect="/ws/restores/' in page
    assert 'id="tier-1"' in page and "configmaps" in page
    assert "Namespaces shop-copy" in page and "already exists" in page
    assert "<dt>Velero</dt>" in page and "shop → shop-copy" in page
    assert "cancel-restore" not in page  # a viewer
    viewer = User.objects.get(username="viewer-user")
    (message,) = RENDERERS["restore"](restore.pk, viewer, 1, where=None)  # as the consumer calls it
    assert 'id="restore-tiers" class="panel" hx-swap-oob="true"' in message
    assert 'id="progress" class="panel progress" hx-swap-oob="true"' in message
    assert RENDERERS["restore"](restore.pk + 1000, viewer, 1) is None


def test_the_history_lists_and_filters_restores(client_as, restore, completed):
    Restore.objects.create(name="other-r", backup=completed, backup_name="other", cluster=completed.cluster,
                           phase=Phase.COMPLETED)  # fmt: skip
    client = client_as("viewer")
    page = client.get("/restores/").content.decode()
    assert restore.name in page and "other-r" in page
    only = client.get("/restores/", {"phase": "Completed"}, HTTP_HX_REQUEST="true").content.decode()
    assert "other-r" in only and restore.name not in only and "<html" not in only
    assert 'href="/restores/"' in client.get("/").content.decode()  # beside Backups in the nav


def test_cancel_a_new_restore_and_delete_an_ended_one_with_its_files(client_as, restore, location):
    client = client_as("operator")
    Restore.objects.filter(pk=restore.pk).update(phase=Phase.NEW)
    client.post(f"/restores/{restore.pk}/cancel/")
    restore.refresh_from_db()
    assert restore.phase == Phase.CANCELLED
    folder = Path(location.path)
    for kind in ("log", "results", "resource-list"):
        path = folder / restore_file_key(kind, restore.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    response = client.post(f"/restores/{restore.pk}/delete/")
    assert response.status_code == 302 and not Restore.objects.exists()
    assert not (folder / "restores" / restore.name).exists()


def test_a_running_restore_is_not_deleted(client_as, restore):
    response = client_as("operator").post(f"/restores/{restore.pk}/delete/", follow=True)
    assert "cancel it before deleting it" in response.content.decode()
    assert Restore.objects.filter(pk=restore.pk).exists()


def test_the_restore_socket_route_serves_the_restore_kind():
    """`as_asgi(run_kind=...)`: Channels hands the keyword to the consumer's __init__ only."""
    from backups.live.routing import websocket_urlpatterns

    kinds = {}
    for pattern in websocket_urlpatterns:
        app = pattern.callback
        if hasattr(app, "consumer_initkwargs") and "run_kind" in app.consumer_initkwargs:
            kinds[str(pattern.pattern)] = app.consumer_class(**app.consumer_initkwargs).run_kind
    assert kinds["ws/backups/<id:run_id>/"] == "backup"
    assert kinds["ws/restores/<id:run_id>/"] == "restore"


def test_a_finished_restore_s_files_download_for_viewers(client_as, restore, location):
    folder = Path(location.path)
    for kind in ("log", "results", "resource-list"):
        path = folder / restore_file_key(kind, restore.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(kind.encode())
    client = client_as("viewer")
    assert client.get(f"/restores/{restore.pk}/download/logs/").status_code == 404  # still running
    Restore.objects.filter(pk=restore.pk).update(phase=Phase.COMPLETED)
    page = client.get(f"/restores/{restore.pk}/").content.decode()
    assert f'href="/restores/{restore.pk}/download/results/"' in page
    response = client.get(f"/restores/{restore.pk}/download/results/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"results"
    assert f"restore-{restore.name}-results.gz" in response["Content-Disposition"]
    assert client.get(f"/restores/{restore.pk}/download/tarball/").status_code == 404
