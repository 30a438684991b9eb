"""The API's restores: list, create (validated like the restore form), get, cancel, delete, by role."""

import json

import pytest

from backups.models import Backup, Restore, StorageLocation
from backups.services import api_tokens

API = "/api/v1"


@pytest.fixture
def token_for(make_user):
    def make(role):
        return api_tokens.create_token(make_user(role, username=f"api-{role}"), "tests")[1]

    return make


@pytest.fixture
def call(client):
    def run(method, path, token=None, body=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
        response = getattr(client, method.lower())(f"{API}{path}", **kwargs, **headers)
        return response.status_code, (json.loads(response.content) if response.content else None)

    return run


@pytest.fixture
def backup(make_backup, tmp_path):
    location = StorageLocation.objects.create(name="here", path=str(tmp_path), default=True)
    return make_backup("src-1", phase=Backup.Phase.COMPLETED, storage_location=location)


def test_operators_restore_viewers_read(call, token_for, backup):
    viewer, operator = token_for("viewer"), token_for("operator")
    body = {"backup": "src-1", "cluster": "sample", "included_namespaces": ["shop"],
            "namespace_mapping": {"shop": "shop-copy"}}  # fmt: skip
    status, answer = call("POST", "/restores/", viewer, body)
    assert status == 403 and answer["error"]["code"] == "permission_denied"
    assert call("GET", "/restores/")[0] == 401
    status, restore = call("POST", "/restores/", operator, body)
    assert status == 201, restore
    assert restore["name"].startswith("src-1-") and restore["backup"] == "src-1" and restore["phase"] == "New"
    assert restore["namespace_mapping"] == {"shop": "shop-copy"}
    status, listing = call("GET", "/restores/", viewer)
    assert status == 200 and [r["name"] for r in listing["results"]] == [restore["name"]]
    assert call("GET", f"/restores/{restore['id']}/", viewer)[1]["cluster"] == "sample"
    assert call("POST", f"/restores/{restore['id']}/cancel/", viewer)[0] == 403
    status, answer = call("DELETE", f"/restores/{restore['id']}/", operator)
    assert status == 409 and "cancel it" in answer["error"]["message"]
    status, answer = call("POST", f"/restores/{restore['id']}/cancel/", operator)
    assert status == 200 and answer["changed"], answer
    if answer["restore"]["phase"] == "Cancelled":
        assert call("DELETE", f"/restores/{restore['id']}/", operator)[0] == 204
        assert not Restore.objects.filter(pk=restore["id"]).exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"workers": 0}, "workers"),
        ({"existing_resource_policy": "overwrite"}, "existing_resource_policy"),
        ({"namespace_mapping": ["shop"]}, "namespace_mapping"),
        ({"label_selector": "a b c"}, "label_selector"),
        ({"name": "Bad_Name"}, "name"),
        ({"backup": "nothing"}, "backup"),
        ({"cluster": "nowhere"}, "cluster"),
        ({"restorePVs": True}, "restorePVs"),
    ],
)
def test_invalid_restores_are_refused_by_field(call, token_for, backup, body, field):
    status, answer = call(
        "POST", "/restores/", token_for("operator"), {"backup": "src-1", "cluster": "sample", **body}
    )
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid" and answer["error"]["fields"].get(field), answer
    assert not Restore.objects.exists()


def test_a_backup_that_cannot_be_restored_is_a_conflict(call, token_for, make_backup):
    make_backup("failed-1", phase=Backup.Phase.FAILED)
    status, answer = call(
        "POST", "/restores/", token_for("operator"), {"backup": "failed-1", "cluster": "sample"}
    )
    assert status == 409 and answer["error"]["fields"]["backup"], answer
    assert not Restore.objects.exists()
