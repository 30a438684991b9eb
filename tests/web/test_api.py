"""The JSON API, /api/v1/: every endpoint with tokens of each role, without a token and with a
revoked one; the validation layer's errors by field in one shape; pages; the OpenAPI schema."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from openapi_spec_validator import validate

from backups.models import ApiToken, Backup, BackupDefinition, BlockBatch, BlockRun, StorageLocation
from backups.services import api_tokens, previews

Phase = Backup.Phase
API = "/api/v1"


@pytest.fixture
def token_for(make_user):
    """A token for a new user of `role` (None: a signed-in user with no role)."""

    def make(role, username=None):
        user = make_user(role, username=username or f"api-{role or 'none'}")
        return api_tokens.create_token(user, "tests")[1]

    return make


@pytest.fixture
def api(client):
    """call(method, path, token, body) -> (status, parsed JSON or None)."""

    def call(method, path, token=None, body=None, raw=None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs = {"content_type": "application/json", "data": data} if data is not None else {}
        response = getattr(client, method.lower())(f"{API}{path}", **kwargs, **headers)
        content = response.content
        return response.status_code, (json.loads(content) if content else None), response

    return call


def assert_error(body, code, *fields):
    """The one error shape, with `code` and problems at each of `fields`."""
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    for field in fields:
        assert body["error"]["fields"].get(field), (field, body)


@pytest.fixture
def location(tmp_path, db):
    place = StorageLocation.objects.create(name="here", path=str(tmp_path / "store"), default=True)
    place.store().check(create=True)
    return place


# --- authentication ---------------------------------------------------------------------------------


def test_no_token_an_unknown_one_and_a_revoked_one_are_refused(api, token_for):
    status, body, response = api("GET", "/backups/")
    assert status == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert_error(body, "not_authenticated")
    status, body, _ = api("GET", "/backups/", token="vwt_not-a-token")
    assert status == 401
    assert_error(body, "authentication_failed")
    assert "unknown" in body["error"]["message"]

    token = token_for("viewer")
    assert api("GET", "/backups/", token=token)[0] == 200
    row = ApiToken.objects.get(digest=api_tokens.digest(token))
    assert row.last_used is not None
    assert api_tokens.revoke(row) and not api_tokens.revoke(row)
    status, body, _ = api("GET", "/backups/", token=token)
    assert status == 401 and "revoked" in body["error"]["message"]


def test_a_token_acts_with_its_user_s_role_of_the_moment(api, token_for, make_user):
    token = token_for(None)
    status, body, _ = api("GET", "/backups/", token=token)
    assert status == 403
    assert_error(body, "permission_denied")
    assert "viewer" in body["error"]["message"]
    user = ApiToken.objects.get(digest=api_tokens.digest(token)).user
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name="viewer")[0])
    assert api("GET", "/backups/", token=token)[0] == 200
    user.is_active = False
    user.save()
    status, body, _ = api("GET", "/backups/", token=token)
    assert status == 401 and "deactivated" in body["error"]["message"]


def test_only_a_hash_of_the_token_is_stored(token_for):
    token = token_for("viewer")
    row = ApiToken.objects.get()
    assert token.startswith("vwt_") and token not in (row.digest, row.prefix) and token.startswith(row.prefix)


# --- roles on every endpoint ------------------------------------------------------------------------

WRITES = [
    ("POST", "/backups/", {"cluster": "sample", "name": "x-1"}),
    ("DELETE", "/backups/{backup}/", None),
    ("POST", "/backups/{backup}/cancel/", None),
    ("POST", "/definitions/", {"name": "d", "cluster": "sample"}),
    ("PATCH", "/definitions/{definition}/", {"paused": True}),
    ("PUT", "/definitions/{definition}/", {"name": "nightly", "cluster": "sample"}),
    ("DELETE", "/definitions/{definition}/", None),
    ("POST", "/definitions/{definition}/backups/", None),
    ("POST", "/definitions/{definition}/pause/", None),
    ("POST", "/definitions/{definition}/resume/", None),
    ("POST", "/previews/", {"cluster": "sample"}),
    ("GET", "/previews/0123456789abcdef0123456789abcdef/", None),
    ("GET", "/previews/0123456789abcdef0123456789abcdef/blocks/", None),
    ("GET", "/previews/0123456789abcdef0123456789abcdef/excluded/", None),
]
READS = [
    "/backups/",
    "/backups/{backup}/",
    "/backups/{backup}/blocks/",
    "/definitions/",
    "/definitions/{definition}/",
    "/schedules/",
    "/locations/",
    "/locations/{location}/",
    "/clusters/",
]


@pytest.fixture
def objects(make_backup, cluster, location):
    backup = make_backup("old-1", phase=Phase.COMPLETED, storage_location=location)
    definition = BackupDefinition.objects.create(name="nightly", cluster=cluster, schedule="0 3 * * *")
    return {"backup": backup.pk, "definition": definition.pk, "location": location.pk}


def test_viewers_read_everything_and_change_nothing(api, token_for, objects):
    viewer = token_for("viewer")
    for path in READS:
        status, body, _ = api("GET", path.format(**objects), token=viewer)
        assert status == 200, (path, body)
    for method, path, body in WRITES:
        status, answer, _ = api(method, path.format(**objects), token=viewer, body=body)
        assert status == 403, (method, path, answer)
        assert_error(answer, "permission_denied")
        assert "operator" in answer["error"]["message"]
    assert Backup.objects.filter(pk=objects["backup"], phase=Phase.COMPLETED).exists()
    assert BackupDefinition.objects.filter(pk=objects["definition"], paused=False).exists()
    for path in READS:
        assert api("GET", path.format(**objects))[0] == 401, path


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_operators_and_admins_reach_every_endpoint(api, token_for, objects, role):
    token = token_for(role)
    for path in READS:
        assert api("GET", path.format(**objects), token=token)[0] == 200, path
    expected = {
        "/backups/": 201, "/backups/{backup}/": 204, "/backups/{backup}/cancel/": 404,
        "/definitions/": 201, "/definitions/{definition}/": 200, "/definitions/{definition}/backups/": 201,
        "/definitions/{definition}/pause/": 200, "/definitions/{definition}/resume/": 200,
        "/previews/": 202, "/previews/0123456789abcdef0123456789abcdef/": 404,
        "/previews/0123456789abcdef0123456789abcdef/blocks/": 404,
        "/previews/0123456789abcdef0123456789abcdef/excluded/": 404,
    }  # fmt: skip
    deletes_last = [w for w in WRITES if w[0] != "DELETE"] + [w for w in WRITES if w[0] == "DELETE"]
    for method, path, body in deletes_last:
        status, answer, _ = api(method, path.format(**objects), token=token, body=body)
        want = 204 if method == "DELETE" else expected[path]
        if path == "/backups/{backup}/cancel/":
            want = 200  # the backup still exists until the DELETE at the end
        assert status == want, (method, path, answer)
    assert not Backup.objects.filter(pk=objects["backup"]).exists()
    assert not BackupDefinition.objects.filter(pk=objects["definition"]).exists()


# --- backups -------------------------------------------------------------------------------------------


def test_create_a_backup_and_back_up_now(api, token_for, cluster, location):
    operator = token_for("operator")
    status, body, _ = api(
        "POST", "/backups/", operator,
        {"cluster": "sample", "name": "shop-1", "included_namespaces": ["shop"], "ttl": "24h0m0s",
         "workers": 2, "hooks_concurrency": "sequential"},
    )  # fmt: skip
    assert status == 201, body
    assert body["name"] == "shop-1" and body["phase"] in ("Queued", "ReadyToStart")
    assert body["options"]["included_namespaces"] == ["shop"] and body["options"]["workers"] == 2
    assert body["options"]["hooks_concurrency"] == "sequential"
    assert body["storage_location"] == "here" and body["cluster"] == "sample"
    assert set(body["progress"]) >= {"items_done", "items_total", "percent", "eta_seconds"}
    status, body, _ = api("POST", "/backups/", operator, {"cluster": "sample", "name": "shop-1"})
    assert status == 409
    assert_error(body, "conflict", "name")
    status, body, _ = api("POST", "/backups/", operator, {"cluster": "sample", "name_prefix": "adhoc"})
    assert status == 201 and body["name"].startswith("adhoc-2"), body


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"ttl": "forever"}, ["ttl"]),
        ({"included_namespaces": "shop"}, ["included_namespaces"]),
        ({"workers": 0}, ["workers"]),
        ({"hooks_concurrency": "whenever"}, ["hooks_concurrency"]),
        ({"label_selector": "app=web", "or_label_selectors": ["tier=db"]}, ["or_label_selectors"]),
        (
            {"included_resources": ["pods"], "included_cluster_scoped_resources": ["*"]},
            ["included_cluster_scoped_resources"],
        ),
        ({"hooks": {"resources": [{"name": "h", "pre": [{"exec": {}}]}]}}, ["hooks"]),
        ({"name": "Bad_Name"}, ["name"]),
        ({"name": "ok", "name_prefix": "ok"}, ["name"]),
        ({"cluster": "nowhere"}, ["cluster"]),
        ({"storage_location": "nowhere"}, ["storage_location"]),
        ({"include_namespaces": ["typo"]}, ["include_namespaces"]),
        ({"label_selector": "a\x00b"}, ["label_selector"]),
    ],
)
def test_invalid_options_are_refused_by_field_and_nothing_is_saved(
    api, token_for, location, cluster, body, fields
):
    status, answer, _ = api("POST", "/backups/", token_for("operator"), {"cluster": "sample", **body})
    assert status == 400, answer
    assert_error(answer, "invalid", *fields)
    assert not Backup.objects.exists()


def test_the_same_messages_as_the_form(api, token_for, location, cluster):
    from backups.validation import backup_problems

    (problem,) = [p for p in backup_problems({"ttl": "forever"}) if p.field == "ttl"]
    _, answer, _ = api("POST", "/backups/", token_for("operator"), {"cluster": "sample", "ttl": "forever"})
    assert answer["error"]["fields"]["ttl"] == [problem.message]


def test_a_read_only_location_is_refused(api, token_for, cluster, tmp_path):
    StorageLocation.objects.create(name="ro", path=str(tmp_path), read_only=True)
    status, answer, _ = api(
        "POST", "/backups/", token_for("operator"), {"cluster": "sample", "storage_location": "ro"}
    )
    assert status == 400 and "read-only" in answer["error"]["fields"]["storage_location"][0]


def test_bad_json_and_bad_ids_answer_in_the_error_shape(api, token_for):
    token = token_for("operator")
    status, body, _ = api("POST", "/backups/", token, raw="{not json")
    assert status == 400
    assert_error(body, "parse_error")
    status, body, _ = api("POST", "/backups/", token, body=["a", "list"])
    assert status == 400
    assert_error(body, "invalid")
    for path in ("/backups/99999/", "/backups/1e5/", "/nothing-here/"):
        status, body, _ = api("GET", path, token)
        assert status == 404, path
        assert_error(body, "not_found")
    status, body, _ = api("PUT", "/backups/", token, body={})
    assert status == 405
    assert_error(body, "method_not_allowed")


def test_list_filters_and_pages(api, token_for, make_backup):
    for i in range(60):
        make_backup(
            f"b-{i}",
            phase=Phase.COMPLETED if i % 2 else Phase.FAILED,
            schedule_name="nightly" if i < 10 else "",
        )
    token = token_for("viewer")
    status, body, _ = api("GET", "/backups/", token)
    assert body["count"] == 60 and len(body["results"]) == 50 and body["next"].endswith("page=2")
    assert body["results"][0]["name"] == "b-59"  # newest first
    _, page2, _ = api("GET", "/backups/?page=2", token)
    assert len(page2["results"]) == 10 and page2["next"] is None
    _, some, _ = api("GET", "/backups/?page_size=7&phase=Failed&schedule=nightly", token)
    assert some["count"] == 5 and len(some["results"]) == 5
    assert all(b["phase"] == "Failed" and b["schedule"] == "nightly" for b in some["results"])
    status, body, _ = api("GET", "/backups/?page=99", token)
    assert status == 404
    assert_error(body, "not_found")


def test_a_backup_with_its_blocks_and_progress(api, token_for, make_backup):
    backup = make_backup(
        "run-1", phase=Phase.IN_PROGRESS, started=timezone.now() - timedelta(seconds=30),
        total_items=200, items_backed_up=50, total_blocks=120, blocks_done=30,
    )  # fmt: skip
    BlockRun.objects.bulk_create(
        BlockRun(backup=backup, index=i, batch=i // 10, item_count=2, first_item=f"pods/ns/p{i}",
                 state="done" if i < 30 else "queued")
        for i in range(120)
    )  # fmt: skip
    token = token_for("viewer")
    _, body, _ = api("GET", f"/backups/{backup.pk}/", token)
    assert body["progress"]["percent"] == 25 and body["progress"]["eta_seconds"] > 0
    _, blocks, _ = api("GET", f"/backups/{backup.pk}/blocks/?page_size=100", token)
    assert blocks["count"] == 120 and len(blocks["results"]) == 100
    assert [b["index"] for b in blocks["results"][:3]] == [0, 1, 2] and blocks["results"][0][
        "state"
    ] == "done"


def test_cancel_and_delete(api, token_for, make_backup, location):
    token = token_for("operator")
    queued = make_backup("q-1", phase=Phase.QUEUED, queue_position=1, storage_location=location)
    status, body, _ = api("POST", f"/backups/{queued.pk}/cancel/", token)
    assert status == 200 and body["changed"] and body["backup"]["phase"] == "Cancelled"
    assert body["backup"]["cancelled_by"] == "api-operator"
    status, body, _ = api("POST", f"/backups/{queued.pk}/cancel/", token)
    assert status == 200 and not body["changed"] and body["message"]
    running = make_backup("r-1", phase=Phase.IN_PROGRESS, storage_location=location, started=timezone.now())
    lease = timezone.now() + timedelta(seconds=60)  # one lane inside block 0: the cancel waits for it
    BlockBatch.objects.create(
        backup=running,
        number=0,
        first_block=0,
        block_count=1,
        item_count=1,
        state="running",
        lease_until=lease,
    )
    BlockRun.objects.create(
        backup=running, index=0, batch=0, item_count=1, first_item="pods shop/db-0", state="items"
    )
    status, body, _ = api("DELETE", f"/backups/{running.pk}/", token)
    assert status == 202 and "cancelled" in body["message"]
    assert Backup.objects.get(pk=running.pk).delete_requested
    status, _, _ = api("DELETE", f"/backups/{queued.pk}/", token)
    assert status == 204 and not Backup.objects.filter(pk=queued.pk).exists()


# --- definitions and schedules -------------------------------------------------------------------------


def test_definitions_and_schedules(api, token_for, cluster, location):
    token = token_for("operator")
    status, body, _ = api(
        "POST", "/definitions/", token, {"name": "nightly", "cluster": "sample", "schedule": "every day"}
    )
    assert status == 400
    assert_error(body, "invalid", "schedule")
    status, body, _ = api(
        "POST", "/definitions/", token,
        {"name": "nightly", "cluster": "sample", "schedule": "0 3 * * *", "included_namespaces": ["shop"]},
    )  # fmt: skip
    assert status == 201, body
    pk = body["id"]
    assert body["schedule_state"]["next_run"] and body["options"]["included_namespaces"] == ["shop"]
    api("POST", "/definitions/", token, {"name": "manual", "cluster": "sample"})
    status, body, _ = api("POST", "/definitions/", token, {"name": "manual", "cluster": "sample"})
    assert status == 409
    assert_error(body, "conflict", "name")
    _, schedules, _ = api("GET", "/schedules/", token)
    assert [d["name"] for d in schedules["results"]] == ["nightly"]
    _, all_of_them, _ = api("GET", "/definitions/", token)
    assert [d["name"] for d in all_of_them["results"]] == ["manual", "nightly"]

    status, body, _ = api("PATCH", f"/definitions/{pk}/", token, {"ttl": "48h0m0s"})
    assert status == 200 and body["options"]["ttl"] == "48h0m0s"
    assert body["options"]["included_namespaces"] == ["shop"] and body["schedule"] == "0 3 * * *"
    status, body, _ = api("PATCH", f"/definitions/{pk}/", token, {"ttl": "soon"})
    assert status == 400
    assert_error(body, "invalid", "ttl")
    assert BackupDefinition.objects.get(pk=pk).ttl == "48h0m0s"
    assert api("POST", f"/definitions/{pk}/pause/", token)[1]["paused"] is True
    assert api("POST", f"/definitions/{pk}/resume/", token)[1]["paused"] is False

    status, backup, _ = api("POST", f"/definitions/{pk}/backups/", token)
    assert status == 201 and backup["name"].startswith("nightly-") and backup["schedule"] == "nightly"
    assert backup["definition"] == pk and backup["options"]["ttl"] == "48h0m0s"
    _, body, _ = api("GET", f"/definitions/{pk}/", token)
    assert body["last_backup"]["name"] == backup["name"]
    assert api("DELETE", f"/definitions/{pk}/", token)[0] == 204
    assert Backup.objects.filter(name=backup["name"]).exists()  # its backups are kept


# --- previews, locations, clusters ------------------------------------------------------------------------


def test_a_preview_is_planned_and_read_page_by_page(api, token_for, emulator, settings, tmp_path, db):
    from backups.models import Cluster

    settings.DATA_DIR = tmp_path
    Cluster.objects.create(name="live", kubeconfig_path=str(emulator.kubeconfig))
    token = token_for("operator")
    status, body, _ = api("POST", "/previews/", token, {"cluster": "live", "included_namespaces": ["shop"]})
    assert status == 202 and body["state"] == "queued", body
    preview = body["token"]
    status, body, _ = api("GET", f"/previews/{preview}/blocks/", token)
    assert status == 404 and "queued" in body["error"]["message"]
    previews.run_preview(preview)  # what the RQ job runs
    _, body, _ = api("GET", f"/previews/{preview}/", token)
    assert body["state"] == "done" and body["summary"]["blocks"] > 3, body
    total = body["summary"]["blocks"]
    _, page, _ = api("GET", f"/previews/{preview}/blocks/?page_size=2", token)
    assert page["count"] == total and len(page["results"]) == 2 and "page=2" in page["next"]
    assert page["results"][0]["index"] == 0 and page["results"][0]["items"]
    _, last, _ = api("GET", f"/previews/{preview}/blocks/?page_size=2&page={(total + 1) // 2}", token)
    assert last["next"] is None and last["results"][-1]["index"] == total - 1
    assert page["results"][0]["adds"] == 6  # the database block's snapshots
    _, excluded, _ = api("GET", f"/previews/{preview}/excluded/?page_size=1", token)
    assert excluded["count"] == body["summary"]["excluded"] >= 1
    assert excluded["results"] == [
        {
            "position": 0,
            "key": "pods shop/debug-shell",
            "reason": "has label velero.io/exclude-from-backup=true",
        }
    ]
    assert set(body["summary"]["dry_run"]) >= {"types", "added", "total"}


def test_locations_are_read_without_credentials(api, token_for, db):
    StorageLocation.objects.create(
        name="s3", provider="s3", bucket="b", access_key_id="AKIAEXAMPLE", secret_access_key="s3cr3t-value"
    )
    status, body, response = api("GET", "/locations/", token_for("viewer"))
    assert status == 200 and body["results"][0]["name"] == "s3"
    assert "access_key_id" not in body["results"][0] and b"s3cr3t" not in response.content
    assert b"AKIAEXAMPLE" not in response.content


# --- the schema and its page -------------------------------------------------------------------------------


def test_the_openapi_schema_is_valid_and_covers_every_endpoint(client, db):
    response = client.get(f"{API}/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate(schema)  # OpenAPI 3 (openapi-spec-validator)
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    for path in READS + [w[1] for w in WRITES]:
        templated = (
            path.replace("{backup}", "{id}").replace("{definition}", "{id}").replace("{location}", "{id}")
        )
        templated = templated.replace("0123456789abcdef0123456789abcdef", "{token}")
        assert f"{API}{templated}" in paths, templated
    for path in ("/restores/", "/restores/{id}/", "/restores/{id}/cancel/"):
        assert f"{API}{path}" in paths, path
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    create = schema["paths"][f"{API}/backups/"]["post"]
    assert {"201", "400", "401", "403", "409"} <= set(create["responses"])


def test_the_docs_page_lists_the_endpoints(client, db):
    response = client.get(f"{API}/docs/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "POST /api/v1/backups/" in text and "GET /api/v1/previews/{token}/blocks/" in text
    assert "included_namespaces" in text and "<script" not in text.split("</head>")[1]
