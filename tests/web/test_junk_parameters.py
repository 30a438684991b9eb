"""Junk in a URL, a query string or a form never makes a 500: every page answers what it would
for a missing or wrong value (the page itself, its first page, the form with its errors, or a 404).

Each view gets the same junk: words, negative and huge numbers (beyond SQLite's and PostgreSQL's
integers), a float in exponent form, empty, digits of other scripts (which `int()` accepts) and a
NUL character (which PostgreSQL refuses in text).
"""

import json
import struct

import pytest

from backups.models import BackupDefinition, StorageLocation
from backups.services import previews

JUNK = ["abc", "-1", "0", "1e30", "99999999999999999999", "", "ünïcode", "٣", "１２", "nul\x00byte"]
HUGE = "99999999999999999999"


@pytest.fixture
def admin(client_as):
    """An admin (every page is open to them) whose client answers 500 instead of raising."""
    client = client_as("admin")
    client.raise_request_exception = False
    return client


def answered(response) -> int:
    assert response.status_code in (200, 302, 404), (response.status_code, response.content[:300])
    return response.status_code


@pytest.mark.parametrize("junk", JUNK)
def test_the_history(admin, cluster, junk):
    for field in ("page", "q", "phase", "cluster", "namespace", "since", "until"):
        assert answered(admin.get("/", {field: junk})) == 200
        assert answered(admin.get("/", {field: junk}, HTTP_HX_REQUEST="true")) == 200
    assert answered(admin.get("/", dict.fromkeys(("page", "cluster", "since", "until"), junk))) == 200


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2026-02-30", "10000-01-01"])
def test_the_history_at_the_ends_of_the_calendar(admin, make_backup, day):
    make_backup("nightly-1")
    response = admin.get("/", {"since": day, "until": day})
    assert answered(response) == 200


@pytest.mark.parametrize("junk", JUNK)
def test_new_backup_from_an_unknown_or_junk_id_is_the_empty_form(admin, make_backup, junk):
    make_backup("nightly-20260101000000", included_namespaces=["shop"])
    response = admin.get("/backups/new/", {"from": junk})
    assert answered(response) == 200
    initial = response.context["form"].initial
    assert "name_prefix" not in initial and "included_namespaces" not in initial  # not filled in


@pytest.mark.parametrize("junk", JUNK)
def test_new_backup_form_with_junk_choices_shows_the_errors(admin, cluster, junk):
    fields = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk}
    for field in ("cluster", "storage_location", "workers", "ttl", "csi_snapshot_timeout", "hooks"):
        for button in ("backup", "preview", "save"):
            response = admin.post("/backups/new/", {**fields, field: junk, button: "1"})
            if answered(response) == 200:
                assert response.context["form"].errors or field in ("storage_location", "hooks")
        assert answered(admin.post("/backups/new/check/", {**fields, field: junk})) == 200


@pytest.mark.parametrize("junk", JUNK)
def test_a_backups_pages(admin, make_backup, junk):
    backup = make_backup("nightly-1", phase="Completed")
    for path in ("", "resources/", "delete/"):
        for field in ("page", "namespace", "resource"):
            answered(admin.get(f"/backups/{backup.pk}/{path}", {field: junk}))
    answered(admin.get(f"/backups/{backup.pk}/download/{junk or 'x'}/"))
    assert answered(admin.get(f"/backups/{HUGE}/")) == 404
    assert answered(admin.get(f"/backups/{HUGE}/resources/")) == 404
    assert answered(admin.post(f"/backups/{HUGE}/delete/")) == 404


@pytest.mark.parametrize("junk", JUNK)
def test_a_definitions_pages(admin, cluster, junk):
    definition = BackupDefinition.objects.create(name="nightly", cluster=cluster)
    fields = {"name_prefix": "nightly", "ttl": "720h0m0s", "workers": "4", "cluster": cluster.pk, "save": "1"}
    answered(admin.post(f"/definitions/{definition.pk}/edit/", {**fields, "cluster": junk}))
    answered(admin.post(f"/definitions/{definition.pk}/edit/", {**fields, "schedule": junk}))
    assert answered(admin.get("/definitions/", {"page": junk})) == 200
    for action in ("edit", "delete"):
        assert answered(admin.get(f"/definitions/{HUGE}/{action}/")) == 404
    for action in ("backup", "preview", "pause", "resume", "delete"):
        assert answered(admin.post(f"/definitions/{HUGE}/{action}/")) == 404


@pytest.fixture
def done_preview(cluster, settings, tmp_path):
    """A finished preview of two one-item blocks, written as the preview job writes it."""
    settings.DATA_DIR = tmp_path
    token = previews.create_request(cluster, {"included_namespaces": []}, "nightly")
    folder = tmp_path / "previews" / token
    lines = [json.dumps({"items": [[f"pods shop/web-{n}", "", None]], "hooks": []}).encode() + b"\n"
             for n in range(2)]
    (folder / "blocks.jsonl").write_bytes(b"".join(lines))
    (folder / "offsets.bin").write_bytes(struct.pack("<QQ", 0, len(lines[0])))
    summary = {"blocks": 2, "items": 2, "excluded": 0, "hooks": 0, "errors": 0, "warnings": 0,
               "messages": [], "largest": [{"index": 0, "size": 1, "first": "pods shop/web-0"}]}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "status.json").write_text(json.dumps({"state": "done"}))
    return token


@pytest.mark.parametrize("junk", JUNK)
def test_a_previews_pages(admin, done_preview, junk):
    for field in ("page", "q"):
        assert answered(admin.get(f"/previews/{done_preview}/", {field: junk})) == 200
    assert answered(admin.get(f"/previews/{done_preview}/blocks/1/")) == 200
    for index in ("2", "9223372036854775807", HUGE):
        assert answered(admin.get(f"/previews/{done_preview}/blocks/{index}/")) == 404
    assert answered(admin.get(f"/previews/{junk or 'x'}/")) == 404
    assert answered(admin.get(f"/previews/{junk or 'x'}/blocks/0/")) == 404


@pytest.mark.parametrize("junk", JUNK)
def test_a_storage_locations_pages(admin, tmp_path, junk):
    location = StorageLocation.objects.create(name="here", path=str(tmp_path))
    assert answered(admin.get(f"/locations/{location.pk}/", {"page": junk})) == 200
    assert answered(admin.post(f"/locations/{location.pk}/import/", {"name": junk})) == 302
    assert answered(admin.get(f"/locations/{HUGE}/")) == 404
    for action in ("check", "default", "import"):
        assert answered(admin.post(f"/locations/{HUGE}/{action}/")) == 404
    assert answered(admin.get(f"/settings/locations/{HUGE}/")) == 404
    answered(admin.post("/settings/locations/new/", {"name": junk, "provider": junk, "path": junk}))


@pytest.mark.parametrize("junk", JUNK)
def test_the_settings_pages(admin, make_user, junk):
    user = make_user("viewer", username="someone")
    # a valid role ("" is "no access") is confirmed first (200), anything else refused (302)
    assert answered(admin.post(f"/settings/users/{user.pk}/role/", {"role": junk})) in (200, 302)
    assert answered(admin.post(f"/settings/users/{HUGE}/role/", {"role": "viewer"})) == 404
    assert answered(admin.get(f"/settings/clusters/{HUGE}/")) == 404
    answered(admin.post("/settings/clusters/new/", {"name": junk, "kubeconfig_path": junk, "context": junk}))
