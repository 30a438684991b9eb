"""Backup definitions: saved from the define form, listed with their last backup, run, edited, deleted."""

from unittest import mock

import pytest

from backups.models import Backup, BackupDefinition

VALID = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


@pytest.fixture
def definition(cluster, make_user):
    return BackupDefinition.objects.create(
        name="nightly",
        cluster=cluster,
        included_namespaces=["shop"],
        created_by=make_user("operator", "alice"),
    )


def save(client, cluster, url="/backups/new/", **fields):
    return client.post(url, {**VALID, "cluster": cluster.pk, "save": "1", **fields})


def test_save_definition_creates_one_from_the_form(operator, cluster):
    response = save(operator, cluster, included_namespaces="shop, pay-*", label_selector="app=db")
    assert response.status_code == 302 and response["Location"] == "/definitions/"
    definition = BackupDefinition.objects.get()
    assert definition.name == "nightly" and definition.cluster == cluster
    assert definition.included_namespaces == ["shop", "pay-*"]
    assert definition.label_selector == "app=db"
    assert definition.created_by.username == "operator-user"
    assert not Backup.objects.exists()
    page = operator.get("/definitions/").content.decode()
    assert "nightly" in page and "shop, pay-*" in page


def test_an_invalid_ttl_is_shown_inline_and_nothing_is_saved(operator, cluster):
    response = save(operator, cluster, ttl="soon")
    assert response.status_code == 200
    assert "invalid ttl" in " ".join(response.context["form"].errors["ttl"])
    assert 'id="id_ttl-errors"' in response.content.decode()
    assert not BackupDefinition.objects.exists()


def test_a_taken_name_is_refused_on_the_name_field(operator, cluster, definition):
    response = save(operator, cluster)
    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["name_prefix"])
    assert BackupDefinition.objects.count() == 1


def test_edit_fills_the_form_in_and_saves_the_changes(operator, cluster, definition):
    url = f"/definitions/{definition.pk}/edit/"
    form = operator.get(url).context["form"]
    assert form.initial["name_prefix"] == "nightly" and form.initial["included_namespaces"] == "shop"
    response = save(operator, cluster, url=url, included_namespaces="shop, pay", ttl="24h")
    assert response.status_code == 302
    definition.refresh_from_db()
    assert definition.included_namespaces == ["shop", "pay"] and definition.ttl == "24h"
    assert BackupDefinition.objects.count() == 1


def test_back_up_now_creates_a_linked_queued_backup(operator, definition):
    with mock.patch("backups.services.backups.admit"):
        response = operator.post(f"/definitions/{definition.pk}/backup/")
    backup = Backup.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backups/{backup.pk}/"
    assert backup.definition == definition
    assert backup.name.startswith("nightly-") and len(backup.name) == len("nightly-20260101000000")
    assert backup.included_namespaces == ["shop"]
    assert backup.phase not in (Backup.Phase.NEW, Backup.Phase.FAILED_VALIDATION)
    row = operator.get("/definitions/").content.decode()
    assert backup.name in row and "Queued" in row


def test_preview_plans_the_definitions_spec(operator, definition):
    with mock.patch("backups.services.previews.start_preview", return_value="0" * 32) as start:
        response = operator.post(f"/definitions/{definition.pk}/preview/")
    assert response.status_code == 302 and response["Location"] == f"/previews/{'0' * 32}/"
    cluster, fields, prefix = start.call_args.args
    assert cluster == definition.cluster and prefix == "nightly"
    assert fields["included_namespaces"] == ["shop"] and fields["definition_id"] == definition.pk


def test_a_viewer_sees_definitions_but_cannot_change_them(client_as, cluster, definition):
    viewer = client_as("viewer")
    page = viewer.get("/definitions/")
    assert page.status_code == 200 and "nightly" in page.content.decode()
    assert "Back up now" not in page.content.decode()
    for action in ("backup", "preview", "delete", "edit"):
        assert viewer.post(f"/definitions/{definition.pk}/{action}/").status_code == 403
    assert viewer.post("/backups/new/", {**VALID, "cluster": cluster.pk, "save": "1"}).status_code == 403
    assert not Backup.objects.exists()
    assert BackupDefinition.objects.filter(pk=definition.pk, included_namespaces=["shop"]).exists()


def test_delete_asks_for_confirmation_and_keeps_the_backups(operator, definition, make_backup):
    backup = make_backup("nightly-20260101000000", definition=definition)
    page = operator.get(f"/definitions/{definition.pk}/delete/")
    assert b"cannot be undone" in page.content
    assert BackupDefinition.objects.filter(pk=definition.pk).exists()
    response = operator.post(f"/definitions/{definition.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/definitions/"
    assert not BackupDefinition.objects.exists()
    backup.refresh_from_db()
    assert backup.definition is None


def test_back_up_now_from_a_definitions_preview_links_the_backup(operator, definition, settings, tmp_path):
    from backups.services import previews

    settings.DATA_DIR = tmp_path
    fields = {**definition.spec_fields(), "definition_id": definition.pk}
    token = previews.create_request(definition.cluster, fields, definition.name)
    with mock.patch("backups.services.backups.admit"):
        response = operator.post(f"/previews/{token}/backup/")
    backup = Backup.objects.get()
    assert response.status_code == 302 and backup.definition == definition
