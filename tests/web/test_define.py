"""The definition form: inline errors naming the problem, "Back up now", filling from a backup."""

from unittest import mock

import pytest

from backups.models import Backup

VALID = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


def post(client, cluster, **fields):
    return client.post("/backups/new/", {**VALID, "cluster": cluster.pk, "backup": "1", **fields})


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"ttl": "soon"}, "ttl", "invalid ttl"),
        ({"ordered_resources": "pods"}, "ordered_resources", "expected RESOURCE=NAME"),
        ({"hooks": "{not json"}, "hooks", "invalid JSON"),
        ({"hooks": '{"resources": [{"pre": []}]}'}, "hooks", "name"),
        ({"label_selector": "app in (web"}, "label_selector", ""),
        ({"excluded_resources": "*"}, "excluded_resources", "'*' cannot be excluded"),
        ({"name_prefix": "Bad_Name"}, "name_prefix", "Lower-case"),
        ({"workers": "0"}, "workers", ""),
    ],
)
def test_inline_errors_name_the_problem(operator, cluster, fields, field, text):
    response = post(operator, cluster, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert f'id="id_{field}-errors"' in response.content.decode()
    assert not Backup.objects.exists()


def test_back_up_now_creates_a_named_queued_backup(operator, cluster):
    with mock.patch("backups.services.admit"):
        response = post(
            operator,
            cluster,
            included_namespaces="shop, pay-*",
            include_cluster_resources="false",
            ordered_resources="pods=shop/db-0,shop/db-1",
            hooks='{"resources": [{"name": "db", "pre": [{"exec": {"command": ["sync"]}}]}]}',
        )
    backup = Backup.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/backups/{backup.pk}/"
    assert backup.name.startswith("nightly-") and len(backup.name) == len("nightly-20260101000000")
    assert backup.included_namespaces == ["shop", "pay-*"]
    assert backup.include_cluster_resources is False
    assert backup.ordered_resources == {"pods": ["shop/db-0", "shop/db-1"]}
    assert backup.hooks["resources"][0]["name"] == "db"
    assert backup.phase == Backup.Phase.QUEUED


def test_the_form_is_filled_in_from_an_earlier_backup(operator, make_backup):
    source = make_backup("nightly-20260101000000", included_namespaces=["shop"], label_selector="app=db")
    form = operator.get("/backups/new/", {"from": source.pk}).context["form"]
    assert form.initial["name_prefix"] == "nightly"
    assert form.initial["included_namespaces"] == "shop"
    assert form.initial["label_selector"] == "app=db"
