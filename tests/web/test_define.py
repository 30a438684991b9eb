"""The definition form: inline errors naming the problem, "Back up now", filling from a backup."""

import json
from unittest import mock

import pytest

from backups.models import Backup

VALID = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4"}


@pytest.fixture
def operator(client_as):
    return client_as("operator")


def post(client, cluster, follow=False, **fields):
    data = {**VALID, "cluster": cluster.pk, "backup": "1", **fields}
    return client.post("/backups/new/", data, follow=follow)


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"ttl": "soon"}, "ttl", "invalid ttl"),
        ({"ordered_resources": "pods"}, "ordered_resources", "expected RESOURCE=NAME"),
        ({"hooks": "{not json"}, "hooks", "invalid JSON"),
        ({"hooks": '{"resources": [{"pre": []}]}'}, "hooks", "name"),
        ({"label_selector": "app in (web"}, "label_selector", ""),
        ({"excluded_resources": "*"}, "excluded_resources", "'*' cannot be excluded"),
        ({"name_prefix": "Bad_Name"}, "name_prefix", "lower-case letters"),
        # each problem under its own input: this one once landed under "Name prefix"
        ({"included_namespaces": "Shop_DB"}, "included_namespaces", "invalid namespace 'Shop_DB'"),
        ({"excluded_namespaces": "*"}, "excluded_namespaces", "'*' cannot be excluded"),
        # durations are bounded: a TTL past what a date holds once wedged the dispatcher
        ({"ttl": "99999999h"}, "ttl", "must be at most 87600h0m0s (10 years)"),
        ({"ttl": "-1h"}, "ttl", "must not be negative"),
        ({"csi_snapshot_timeout": "48h"}, "csi_snapshot_timeout", "must be at most 24h0m0s"),
        (
            {
                "hooks": json.dumps(
                    {"resources": [{"name": "db", "pre": [{"exec": {"command": ["x"], "timeout": "25h"}}]}]}
                )
            },  # noqa: E501
            "hooks",
            "must be at most 24h0m0s",
        ),
        ({"volume_group_label_key": "bad key!"}, "volume_group_label_key", "invalid volume group label key"),
        ({"schedule": "@every 0s"}, "schedule", "must be at least 1m0s"),
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
    with mock.patch("backups.services.backups.admit"):
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


@pytest.fixture
def live_cluster(emulator, db):
    from backups.models import Cluster

    return Cluster.objects.create(name="live", kubeconfig_path=emulator.kubeconfig)


def test_the_inline_check_puts_errors_and_cluster_warnings_under_their_fields(operator, live_cluster):
    response = operator.post(
        "/backups/new/check/",
        {**VALID, "cluster": live_cluster.pk, "included_namespaces": "shop, nope-*, ghost", "ttl": "9e9h",
         "included_resources": "pods, gizmos", "excluded_namespaces": "Bad_NS"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="notes-included_namespaces" aria-live="polite" hx-swap-oob="true"' in html
    notes = {
        field: html.split(f'id="notes-{field}"')[1].split('id="notes-')[0]
        for field in (
            "included_namespaces",
            "included_resources",
            "ttl",
            "excluded_namespaces",
            "name_prefix",
        )
    }
    assert "namespace pattern &#x27;nope-*&#x27; matches no namespace" in notes["included_namespaces"]
    assert "namespace ghost in included namespaces does not exist" in notes["included_namespaces"]
    assert "shop in" not in notes["included_namespaces"]  # it exists
    assert "unknown resource &#x27;gizmos&#x27; in included resources" in notes["included_resources"]
    assert "errorlist" in notes["ttl"] and "errorlist" in notes["excluded_namespaces"]
    assert "<li>" not in notes["name_prefix"]
    assert not Backup.objects.exists()


def test_an_unknown_resource_in_a_hook_is_a_warning_under_hooks_not_an_error(operator, live_cluster):
    hooks = {
        "resources": [
            {"name": "freeze", "includedResources": ["podz"], "pre": [{"exec": {"command": ["x"]}}]}
        ]
    }
    response = operator.post(
        "/backups/new/check/", {**VALID, "cluster": live_cluster.pk, "hooks": json.dumps(hooks)}
    )
    notes = response.content.decode().split('id="notes-hooks"')[1].split('id="notes-')[0]
    assert "unknown resource &#x27;podz&#x27; in hook &#x27;freeze&#x27; includedResources" in notes
    assert "warnlist" in notes and "errorlist" not in notes
    with mock.patch("backups.services.backups.admit"):
        post(operator, live_cluster, hooks=json.dumps(hooks))
    assert Backup.objects.get().phase == Backup.Phase.QUEUED


def test_hooks_concurrency_is_a_choice_of_the_form_stored_on_the_backup(operator, cluster):
    with mock.patch("backups.services.backups.admit"):
        post(operator, cluster)
        post(operator, cluster, name_prefix="velero-order", hooks_concurrency="sequential")
    assert dict(Backup.objects.values_list("name", "hooks_concurrency")) == {
        Backup.objects.get(name__startswith="nightly").name: "concurrent",
        Backup.objects.get(name__startswith="velero-order").name: "sequential",
    }
    response = post(operator, cluster, hooks_concurrency="whenever")
    assert "hooks_concurrency" in response.context["form"].errors
    assert Backup.objects.count() == 2


def test_warnings_do_not_refuse_the_backup_and_are_shown_after_it(operator, live_cluster):
    with mock.patch("backups.services.backups.admit"):
        response = post(operator, live_cluster, included_namespaces="ghost", follow=True)
    backup = Backup.objects.get()
    assert backup.phase == Backup.Phase.QUEUED
    assert "namespace ghost in included namespaces does not exist" in response.content.decode()


POLICY = """version: v1
volumePolicies:
- conditions: {storageClass: [scratch]}
  action: {type: skip}
"""


def test_velero_s_newer_filters_are_on_the_form(operator, cluster):
    with mock.patch("backups.services.backups.admit"):
        post(
            operator,
            cluster,
            included_namespace_scoped_resources="pods, configmaps",
            excluded_cluster_scoped_resources="storageclasses",
            or_label_selectors="app=web or tier=db",
            resource_policy=POLICY,
        )
    backup = Backup.objects.get()
    assert backup.included_namespace_scoped_resources == ["pods", "configmaps"]
    assert backup.excluded_cluster_scoped_resources == ["storageclasses"]
    assert backup.or_label_selectors == ["app=web", "tier=db"]
    assert "scratch" in backup.resource_policy


@pytest.mark.parametrize(
    "fields, field, text",
    [
        ({"included_resources": "pods", "included_namespace_scoped_resources": "pods"},
         "included_namespace_scoped_resources", "cannot be used together"),
        ({"label_selector": "app=web", "or_label_selectors": "a=b or c=d"}, "or_label_selectors", "only one"),
        ({"or_label_selectors": "a=b or "}, "or_label_selectors", ""),
        ({"resource_policy": "version: v9\n"}, "resource_policy", ""),
    ],
)  # fmt: skip
def test_the_newer_filters_refusals_land_at_their_fields(operator, cluster, fields, field, text):
    response = post(operator, cluster, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert not Backup.objects.exists()
