"""Importing backups found in a storage location into the history.

End to end: a backup run by the real stack (RQ workers, the emulated sample cluster) into a local
folder or an S3 bucket (moto's server with IAM authentication on) is imported into a fresh database,
and into its own database after its rows were deleted, with the same counts and the same files to
download. In process: a velero-backup.json written by hand with Velero's own fields maps back to
ours, and malformed ones are listed as unreadable with the reason, never imported.
"""

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backups.models import Backup, Cluster, StorageLocation
from backups.services import imports
from tests.conftest import REPO
from tests.moto_s3 import start_s3_server, stop_s3_server
from veloweb.devstack import is_postgres, pg_admin, with_database

COMPARED = [
    "phase",
    "total_items",
    "items_backed_up",
    "errors",
    "warnings",
    "hooks_attempted",
    "hooks_failed",
    "snapshots_attempted",
    "snapshots_completed",
    "size_bytes",
    "included_namespaces",
    "excluded_namespaces",
    "include_cluster_resources",
    "label_selector",
    "ordered_resources",
    "ttl",
    "csi_snapshot_timeout",
    "volume_group_label_key",
    "started",
    "completed",
    "expiration",
]
DOWNLOADS = {
    "tarball": "{}.tar.gz",
    "logs": "{}-logs.gz",
    "results": "{}-results.gz",
    "resource-list": "{}-resource-list.json.gz",
}


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server
    finally:
        stop_s3_server(proc)


def location_fields(provider, tmp_path, s3) -> dict:
    if provider == "local":  # the folder exists, as saving the location's form makes it
        (tmp_path / "location").mkdir(exist_ok=True)
        return {"provider": "local", "path": str(tmp_path / "location")}
    return s3.location_fields(prefix=uuid.uuid4().hex[:8])


def store_of(fields: dict):
    return StorageLocation(**fields).store()


def shell(manage_or_env, code: str) -> str:
    if callable(manage_or_env):
        return manage_or_env("shell", "-c", code).stdout
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO,
        env=manage_or_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run_manage(env, *args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def add_location(target, name: str, fields: dict) -> None:
    code = "from backups.models import StorageLocation\n"
    shell(target, code + f"StorageLocation.objects.create(name={name!r}, **{fields!r})")


STATE = """
import hashlib, json
from django.test import Client
from django.contrib.auth.models import User
from backups.models import Backup
b = Backup.objects.get(name={name!r})
state = {{f: getattr(b, f) for f in {fields!r}}}
for f in ("started", "completed", "expiration"):
    state[f] = state[f].replace(microsecond=0).isoformat() if state[f] else None
state["imported"], state["cluster"] = b.imported, b.cluster_id
user, _ = User.objects.get_or_create(username="downloader", defaults={{"is_superuser": True}})
client = Client(HTTP_HOST="localhost")
client.force_login(user)
state["downloads"] = {{}}
for kind in {kinds!r}:
    response = client.get(f"/backups/{{b.pk}}/download/{{kind}}/")
    body = b"".join(response.streaming_content) if response.status_code == 200 else b""
    state["downloads"][kind] = [response.status_code, len(body), hashlib.sha256(body).hexdigest()]
print(json.dumps(state))
"""


def backup_state(target, name: str) -> dict:
    code = STATE.format(name=name, fields=COMPARED, kinds=list(DOWNLOADS))
    return json.loads(shell(target, code).strip().splitlines()[-1])


@pytest.fixture
def fresh_env(stack_env, tmp_path):
    """A second Veloweb: its own, freshly migrated database and data folder; the same Redis."""
    env = {**stack_env, "VELOWEB_DATA_DIR": str(tmp_path / "fresh-data")}
    base = os.environ.get("DATABASE_URL", "")
    database = None
    if is_postgres(base):
        database = f"veloweb_fresh_{uuid.uuid4().hex[:10]}"
        pg_admin(base, f'CREATE DATABASE "{database}"')
        env["DATABASE_URL"] = with_database(base, database)
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    try:
        run_manage(env, "migrate", "--noinput")
        yield env
    finally:
        if database:
            pg_admin(base, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.usefixtures("rq_workers")
@pytest.mark.parametrize("provider", ["local", "s3"])
def test_a_backup_run_by_the_stack_is_imported_with_the_same_counts_and_files(
    provider, manage, registered, fresh_env, tmp_path, s3
):
    fields = location_fields(provider, tmp_path, s3)
    location, name = f"run-{provider}", f"imported-{provider}-1"
    add_location(manage, location, fields)
    result = manage(
        "backup", "create", name, "--cluster", registered, "--storage-location", location,
        "--selector", "!veloweb.test/never-set", "--wait", "--timeout", "180", check=False,
    )  # fmt: skip
    assert "Phase:        Completed" in result.stdout, result.stdout + result.stderr
    original = backup_state(manage, name)
    assert original["label_selector"] == "!veloweb.test/never-set" and original["snapshots_completed"] > 0
    store = store_of(fields)
    files = {k: store.open(f"backups/{name}/{p.format(name)}").read() for k, p in DOWNLOADS.items()}
    expected = {k: [200, len(body), hashlib.sha256(body).hexdigest()] for k, body in files.items()}
    assert original["downloads"] == expected and original["total_items"] > 50

    # a fresh install that is given the same location sees the backup and imports it
    add_location(fresh_env, "found", fields)
    browse = run_manage(fresh_env, "location", "browse", "found").stdout
    assert name in browse and "importable" in browse
    output = run_manage(fresh_env, "location", "import", "found", "--all").stdout
    assert f"Backup {name} imported from found (Completed)." in output
    assert "Imported 1 backup(s)" in output
    fresh = backup_state(fresh_env, name)
    assert {k: fresh[k] for k in COMPARED} == {k: original[k] for k in COMPARED}
    assert fresh["downloads"] == expected
    assert (fresh["imported"], fresh["cluster"]) == (True, None)
    describe = run_manage(fresh_env, "backup", "describe", name).stdout
    assert "Cluster:      <unknown>" in describe and "Storage:      found (imported)" in describe
    again = run_manage(fresh_env, "location", "import", "found", name).stdout
    assert "already in the history: nothing to import" in again

    # the same database, after the backup's rows were deleted (its files stay)
    shell(manage, f"from backups.models import Backup\nBackup.objects.filter(name={name!r}).delete()")
    manage("location", "import", location, name)
    restored = backup_state(manage, name)
    assert {k: restored[k] for k in COMPARED} == {k: original[k] for k in COMPARED}
    assert restored["downloads"] == expected


# --- in process: Velero's own files ---------------------------------------------------------------------

VELERO_BACKUP = {
    "apiVersion": "velero.io/v1",
    "kind": "Backup",
    "metadata": {
        "name": "nightly-20250102030405",
        "namespace": "velero",
        "uid": "5b9c1c4e-3b0f-4a8e-9f55-1d2c3b4a5e6f",
        "creationTimestamp": "2025-01-02T03:04:05Z",
        "labels": {
            "velero.io/schedule-name": "nightly",
            "velero.io/storage-location": "default",
        },
        "annotations": {"velero.io/source-cluster-k8s-gitversion": "v1.30.2"},
    },
    "spec": {
        "metadata": {},
        "includedNamespaces": ["shop", "pay-*"],
        "excludedNamespaces": ["pay-test"],
        "includedResources": ["pods", "persistentvolumeclaims", "deployments.apps"],
        "excludedResources": ["events"],
        "labelSelector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "cache"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ],
        },
        "orderedResources": {"pods": "shop/db-0,shop/db-1", "persistentvolumes": "pv-1"},
        "ttl": "168h0m0s",
        "includeClusterResources": False,
        "hooks": {
            "resources": [
                {
                    "name": "freeze",
                    "includedNamespaces": ["shop"],
                    "pre": [{"exec": {"container": "db", "command": ["/bin/freeze"], "onError": "Fail"}}],
                }
            ]
        },
        "storageLocation": "default",
        "volumeSnapshotLocations": [],
        "snapshotVolumes": True,
        "defaultVolumesToFsBackup": False,
        "snapshotMoveData": False,
        "csiSnapshotTimeout": "20m0s",
        "itemOperationTimeout": "4h0m0s",
        "volumeGroupSnapshotLabelKey": "example.com/group",
    },
    "status": {
        "version": 1,
        "formatVersion": "1.1.0",
        "expiration": "2025-01-09T03:04:05Z",
        "phase": "PartiallyFailed",
        "startTimestamp": "2025-01-02T03:04:05Z",
        "completionTimestamp": "2025-01-02T03:06:35Z",
        "warnings": 3,
        "errors": 1,
        "progress": {"totalItems": 120, "itemsBackedUp": 118},
        "csiVolumeSnapshotsAttempted": 4,
        "csiVolumeSnapshotsCompleted": 3,
        "hookStatus": {"hooksAttempted": 2, "hooksFailed": 1},
        "backupItemOperationsAttempted": 0,
    },
}
NAME = VELERO_BACKUP["metadata"]["name"]


@pytest.fixture(params=["local", "s3"])
def found(request, db, tmp_path):
    """A storage location (local, or an S3 prefix) and a store to write Velero's files into."""
    if request.param == "local":
        fields = {"provider": "local", "path": str(tmp_path)}
    else:
        fields = request.getfixturevalue("s3").location_fields(prefix=uuid.uuid4().hex[:8])
    location = StorageLocation.objects.create(name=f"velero-{request.param}", **fields)
    return location, location.store()


def put_backup(store, name, document, tarball=b"\x1f\x8b tarball"):
    body = document if isinstance(document, bytes) else json.dumps(document, indent=2).encode()
    store.put_bytes(f"backups/{name}/velero-backup.json", body)
    if tarball is not None:
        store.put_bytes(f"backups/{name}/{name}.tar.gz", tarball)


def test_a_hand_written_velero_backup_maps_back_to_our_fields(found):
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP, tarball=b"x" * 4321)
    store.put_bytes(f"backups/{NAME}/{NAME}-logs.gz", b"logs")
    [entry] = imports.discover(location)
    assert (entry.name, entry.status, entry.phase) == (NAME, imports.IMPORTABLE, "PartiallyFailed")

    result = imports.import_backup(location, NAME)
    assert (
        result.created and result.message == f"Backup {NAME} imported from {location.name} (PartiallyFailed)."
    )
    b = Backup.objects.get(name=NAME)
    assert (b.imported, b.cluster, b.storage_location) == (True, None, location)
    assert b.included_namespaces == ["shop", "pay-*"] and b.excluded_namespaces == ["pay-test"]
    assert b.included_resources == ["pods", "persistentvolumeclaims", "deployments.apps"]
    assert b.excluded_resources == ["events"]
    assert b.include_cluster_resources is False and b.snapshot_volumes is True
    assert b.label_selector == "app=web,!legacy,tier in (cache,front)"
    assert b.ordered_resources == {"pods": ["shop/db-0", "shop/db-1"], "persistentvolumes": ["pv-1"]}
    assert b.hooks == VELERO_BACKUP["spec"]["hooks"]
    assert (b.ttl, b.csi_snapshot_timeout, b.volume_group_label_key) == (
        "168h0m0s",
        "20m0s",
        "example.com/group",
    )
    assert (b.phase, b.failure_reason) == ("PartiallyFailed", "")
    assert b.created.isoformat() == b.started.isoformat() == "2025-01-02T03:04:05+00:00"
    assert b.completed.isoformat() == "2025-01-02T03:06:35+00:00"
    assert b.expiration.isoformat() == "2025-01-09T03:04:05+00:00"
    assert (b.total_items, b.items_backed_up, b.errors, b.warnings) == (120, 118, 1, 3)
    assert (b.hooks_attempted, b.hooks_failed) == (2, 1)
    assert (b.snapshots_attempted, b.snapshots_completed) == (4, 3)
    assert (b.schedule_name, b.size_bytes) == ("nightly", 4321)
    # importing again is a no-op that says so
    again = imports.import_backup(location, NAME)
    assert not again.created and again.message.endswith("is already in the history: nothing to import.")
    assert Backup.objects.filter(name=NAME).count() == 1
    assert imports.discover(location)[0].status == imports.IN_HISTORY


def test_the_tarball_is_only_asked_for_its_size(s3, db):
    location = StorageLocation.objects.create(name="streamed", **s3.location_fields(prefix="streamed"))
    put_backup(location.store(), NAME, VELERO_BACKUP, tarball=os.urandom(3 * 1024 * 1024))
    imports.import_backup(location, NAME)
    assert Backup.objects.get(name=NAME).size_bytes == 3 * 1024 * 1024
    requests = [line for line in s3.log_path.read_text().splitlines() if f"{NAME}.tar.gz" in line]
    assert any('"HEAD /' in line for line in requests), requests
    assert not any('"GET /' in line for line in requests), requests


@pytest.mark.parametrize(
    "phase", ["InProgress", "New", "Finalizing", "WaitingForPluginOperations", "Deleting", ""]
)
def test_a_backup_left_unfinished_is_imported_as_failed_saying_so(found, phase):
    location, store = found
    document = json.loads(json.dumps(VELERO_BACKUP))
    document["status"]["phase"] = phase
    document["status"].pop("completionTimestamp")
    put_backup(store, NAME, document)
    backup = imports.import_backup(location, NAME).backup
    assert backup.phase == Backup.Phase.FAILED
    found_as = f"found in storage location {location.name} with phase {phase or '(none)'}"
    assert backup.failure_reason == f"{found_as}: it did not finish where it ran"


def broken(**changes) -> dict:
    document = json.loads(json.dumps(VELERO_BACKUP))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = document
        for part in parents:
            target = target[part]
        target[last] = value
    return document


MALFORMED = {
    "no-json": (None, "velero-backup.json is missing"),
    "not-json": (b'{"apiVersion": "velero.io/v1",', "velero-backup.json is not valid JSON"),
    "a-list": (b"[1, 2]", "velero-backup.json is not a JSON object"),
    "not-a-backup": (broken(kind="Restore"), "not a Velero Backup (kind 'Restore'"),
    "other-name": (broken(metadata__name="someone-else"), "names backup 'someone-else'"),
    "bad-count": (broken(status__errors="many"), "errors must be a non-negative integer, not 'many'"),
    "bad-time": (broken(status__startTimestamp="yesterday"), "startTimestamp 'yesterday' is not an RFC 3339"),
    "bad-ttl": (broken(spec__ttl="a week"), "ttl 'a week'"),
    "bad-list": (broken(spec__includedNamespaces="shop"), "includedNamespaces must be a list of strings"),
    "bad-selector": (
        broken(spec__labelSelector={"matchExpressions": [{"key": "a", "operator": "Near"}]}),
        "'Near' is not a valid label selector operator",
    ),
}


def test_malformed_backups_are_listed_as_unreadable_with_the_reason_and_never_imported(found):
    location, store = found
    for name, (document, _) in MALFORMED.items():
        if document is None:
            store.put_bytes(f"backups/{name}/{name}.tar.gz", b"tarball only")
        else:
            if isinstance(document, dict) and name != "other-name":
                document = {**document, "metadata": {**document["metadata"], "name": name}}
            put_backup(store, name, document)
    listed = {entry.name: entry for entry in imports.discover(location)}
    assert sorted(listed) == sorted(MALFORMED)
    for name, (_, reason) in MALFORMED.items():
        assert listed[name].status == imports.UNREADABLE and reason in listed[name].reason, (
            name,
            listed[name],
        )
        with pytest.raises(imports.ImportProblem, match="backup " + name):
            imports.import_backup(location, name)
    imported, skipped = imports.import_all(location)
    assert imported == [] and len(skipped) == len(MALFORMED)
    assert not Backup.objects.exists()


def add_odd_folders(location, store) -> dict[str, str]:
    """Folders under `backups/` that name no backup, each with a velero-backup.json: `.` and `..`
    (possible as S3 keys), and names Velero could never have written. Returns name -> as shown."""
    odd = ["Bad Name", "UPPER", "tab\there", "x" * 64, "a?b#c", "ünï", "-dash", "%2e%2e"]
    if location.provider == "s3":
        odd += [".", ".."]
        client = store._client
        for name in odd:
            client.put_object(Bucket=store.bucket, Key=f"{store.prefix}/backups/{name}/velero-backup.json",
                               Body=json.dumps(VELERO_BACKUP).encode())
    else:
        root = Path(location.path) / "backups"
        for name in odd:
            (root / name).mkdir(parents=True)
            (root / name / "velero-backup.json").write_text(json.dumps(VELERO_BACKUP))
        undecodable = os.fsencode(root) + b"/caf\xe9"  # not UTF-8: os.listdir gives it back escaped
        os.mkdir(undecodable)
        with open(undecodable + b"/velero-backup.json", "w") as f:
            f.write("{}")
        odd.append(os.fsdecode(b"caf\xe9"))
    return {name: ascii(name) for name in odd}


def test_folders_that_name_no_backup_are_listed_as_not_importable_and_the_rest_imports(found):
    """A `.` or `..` key (or `Bad Name`) under backups/ broke browsing and importing the whole
    location with a ValueError; now each is listed with the reason and the good one imports."""
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP)
    odd = add_odd_folders(location, store)
    listed = {entry.name: entry for entry in imports.discover(location)}
    assert listed[NAME].status == imports.IMPORTABLE
    assert set(listed) == {NAME, *odd}
    for name, shown in odd.items():
        assert listed[name].status == imports.INVALID_NAME
        assert listed[name].shown == shown
        assert listed[name].reason == (
            f"{shown} is not a valid backup name (lower-case letters, digits, '-' and '.', at most 63"
            " characters)"
        )
    imported, skipped = imports.import_all(location)
    assert [result.backup.name for result in imported] == [NAME]
    assert len(skipped) == len(odd) and all("is not a valid backup name" in reason for reason in skipped)
    for name in odd:
        with pytest.raises(imports.ImportProblem, match="is not a valid backup name"):
            imports.import_backup(location, name)
    assert list(Backup.objects.values_list("name", flat=True)) == [NAME]


def test_the_location_command_lists_odd_folders_escaped_and_refuses_to_import_them(found, capsys):
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP)
    odd = add_odd_folders(location, store)
    call_command("location", "browse", location.name)
    out = capsys.readouterr().out
    assert f"{NAME:40} PartiallyFailed" in out
    assert "\t" not in out  # a tab (or worse) in a folder name never reaches the terminal raw
    for shown in odd.values():
        assert f"{shown:40} -" in out and "invalid name: " in out
    with pytest.raises(CommandError, match=r"backup 'Bad Name' is not a valid backup name"):
        call_command("location", "import", location.name, "Bad Name")
    call_command("location", "import", location.name, "--all")
    out = capsys.readouterr().out
    assert f"Backup {NAME} imported" in out and "Imported 1 backup(s)" in out
    assert out.count("is not a valid backup name") == len(odd)


BAD_VALUES = {
    "huge-ttl": (broken(spec__ttl="99999999h"), "ttl '99999999h': must be at most 2562047h47m16"),
    "long-ttl": (broken(spec__ttl="1h" + "0m" * 20), "is longer than 30 characters"),
    "huge-count": (broken(status__errors=2**31), "errors 2147483648 is out of range (at most 2147483647)"),
    "early": (broken(status__startTimestamp="0001-01-01T00:00:00+01:00"),
              "startTimestamp '0001-01-01T00:00:00+01:00' is out of range"),
    "late": (broken(status__expiration="9999-12-31T23:59:59-01:00"),
             "expiration '9999-12-31T23:59:59-01:00' is out of range"),
    "phase-list": (broken(status__phase=["Completed"]), "phase must be a string"),
    "a-number": (b"42", "velero-backup.json is not a JSON object"),
    "not-utf8": (b'{"kind": "\xff"}', "velero-backup.json is not valid JSON"),
}


def test_absurd_values_make_that_backup_not_importable_with_the_reason(found):
    """Each of these was a 500 or a traceback on import (OverflowError, DataError on PostgreSQL,
    TypeError), or a backup whose expiration no date can hold."""
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP)
    for name, (document, _) in BAD_VALUES.items():
        if isinstance(document, dict):
            document = {**document, "metadata": {**document["metadata"], "name": name}}
        put_backup(store, name, document)
    listed = {entry.name: entry for entry in imports.discover(location)}
    for name, (_, reason) in BAD_VALUES.items():
        assert listed[name].status == imports.UNREADABLE and reason in listed[name].reason, listed[name]
    assert listed[NAME].status == imports.IMPORTABLE
    imported, skipped = imports.import_all(location)
    assert [result.backup.name for result in imported] == [NAME]
    assert len(skipped) == len(BAD_VALUES)


def test_a_name_already_in_the_history_elsewhere_is_a_conflict(found):
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP)
    cluster = Cluster.objects.create(name="here")
    Backup.objects.create(name=NAME, cluster=cluster, phase=Backup.Phase.COMPLETED)
    [entry] = imports.discover(location)
    assert entry.status == imports.CONFLICT and "already in the history" in entry.reason
    with pytest.raises(imports.ImportProblem, match="already in the history, stored in no location"):
        imports.import_backup(location, NAME)
    assert Backup.objects.get(name=NAME).cluster == cluster


def test_the_location_command(found, capsys):
    location, store = found
    put_backup(store, NAME, VELERO_BACKUP)
    put_backup(store, "not-json", b"{", tarball=None)
    call_command("location", "check", location.name)
    assert f"Storage location {location.name} is available." in capsys.readouterr().out
    call_command("location", "list")
    assert "available" in capsys.readouterr().out
    call_command("location", "browse", location.name)
    out = capsys.readouterr().out
    assert f"{NAME:40} PartiallyFailed" in out and "unreadable: backup not-json" in out
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("location", "import", location.name, NAME, "not-json")
    assert Backup.objects.filter(name=NAME, imported=True).count() == 1  # the good one went in
    with pytest.raises(CommandError, match="name the backups to import, or give --all"):
        call_command("location", "import", location.name)
    with pytest.raises(CommandError, match="no storage location named 'nope'"):
        call_command("location", "browse", "nope")


def test_the_check_command_fails_on_an_unavailable_location(db, tmp_path):
    (tmp_path / "file").write_text("x")
    StorageLocation.objects.create(name="broken", path=str(tmp_path / "file"))
    with pytest.raises(CommandError, match="storage location broken is unavailable: .*not a directory"):
        call_command("location", "check", "broken")
    assert StorageLocation.objects.get(name="broken").available is False


def test_velero_1_11_filters_or_selectors_and_a_policy_reference_map_back(found):
    """A Velero backup with the scoped filters and orLabelSelectors; its resource policy is a
    ConfigMap in its cluster, so only a Veloweb backup (which keeps the YAML) brings one back."""
    location, store = found
    document = json.loads(json.dumps(VELERO_BACKUP))
    spec = document["spec"]
    for old in ("includedResources", "excludedResources", "includeClusterResources", "labelSelector"):
        del spec[old]
    spec.update(
        includedClusterScopedResources=["persistentvolumes", "storageclasses.storage.k8s.io"],
        excludedNamespaceScopedResources=["secrets"],
        orLabelSelectors=[{"matchLabels": {"app": "web"}}, {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}],  # noqa: E501
        resourcePolicy={"kind": "configmap", "name": "skip-nfs"},
    )
    put_backup(store, NAME, document)
    imports.import_backup(location, NAME)
    b = Backup.objects.get(name=NAME)
    assert b.included_cluster_scoped_resources == ["persistentvolumes", "storageclasses.storage.k8s.io"]
    assert b.excluded_namespace_scoped_resources == ["secrets"]
    assert (b.included_namespace_scoped_resources, b.excluded_cluster_scoped_resources) == ([], [])
    assert b.included_resources == [] and b.include_cluster_resources is None
    assert (b.label_selector, b.or_label_selectors) == ("", ["app=web", "tier"])
    assert b.resource_policy == ""
