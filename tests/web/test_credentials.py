"""Storage credentials at rest: sealed in the database with a key derived from SECRET_KEY
(veloweb/crypto.py), still usable against a real S3 endpoint (moto's server with IAM on), sealed
and unsealed by migration 0007, and a location whose credentials were sealed under another
SECRET_KEY says so on its pages instead of failing."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from backups.engine.storage import StorageError
from backups.models import StorageLocation
from tests.moto_s3 import start_s3_server, stop_s3_server
from veloweb import crypto

BEFORE, SEALED = ("backups", "0005_schedules_expiry_locations"), ("backups", "0007_encrypted_credentials")
UNREADABLE = "credentials cannot be decrypted: SECRET_KEY changed? Enter them again."


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    proc, server = start_s3_server(tmp_path_factory.mktemp("moto") / "moto.log", bucket="veloweb-sealed")
    try:
        yield server
    finally:
        stop_s3_server(proc)


def raw_credentials(pk) -> tuple[str, str]:
    """The columns as stored, read with SQL (the ORM is what we are testing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_key_id, secret_access_key FROM backups_storagelocation WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_sealing_round_trips_and_is_never_the_plaintext(settings):
    sealed = crypto.seal("very-secret-value")
    assert sealed.startswith("fernet1:") and "very-secret-value" not in sealed
    assert crypto.seal("very-secret-value") != sealed  # a fresh IV each time
    assert crypto.unseal(sealed) == "very-secret-value"
    assert crypto.seal("") == "" and crypto.seal(sealed) == sealed  # nothing to seal, sealed once
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(crypto.Unreadable, match="SECRET_KEY changed"):
        crypto.unseal(sealed)


def test_a_rotated_secret_key_still_opens_old_values_through_the_fallbacks(settings):
    old_key = settings.SECRET_KEY
    sealed = crypto.seal("AKIAOLDKEY0000000000")
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-brand-new-key-" + "y" * 40, [old_key]
    assert crypto.unseal(sealed) == "AKIAOLDKEY0000000000"
    assert crypto.unseal(crypto.seal("new")) == "new"


def test_saved_credentials_are_sealed_in_the_database_and_work_against_s3(client_as, s3):
    admin = client_as("admin")
    response = admin.post(
        "/settings/locations/new/", {"name": "s3loc", **s3.location_fields(prefix="sealed")}
    )
    assert response.status_code == 302, response.context["form"].errors
    location = StorageLocation.objects.get(name="s3loc")
    access_key_id, secret = raw_credentials(location.pk)
    for stored, plain in ((access_key_id, s3.access_key_id), (secret, s3.secret_access_key)):
        assert stored.startswith("fernet1:") and plain not in stored
    assert location.credentials() == (s3.access_key_id, s3.secret_access_key)
    location.store().check()  # a real signed request: moto refuses wrong credentials
    assert location.check_access() == ""


def test_every_way_of_writing_seals(db):
    """save(), update() and bulk_create() all go through the field; the instance keeps no plaintext."""
    location = StorageLocation.objects.create(
        name="a", provider="s3", bucket="b", secret_access_key="s3cr3t-a"
    )
    assert location.secret_access_key.startswith("fernet1:")
    StorageLocation.objects.filter(pk=location.pk).update(access_key_id="AKIAUPDATED")
    (bulk,) = StorageLocation.objects.bulk_create([StorageLocation(name="b", access_key_id="AKIABULK")])
    rows = [raw_credentials(location.pk), raw_credentials(StorageLocation.objects.get(name="b").pk)]
    assert all(value.startswith("fernet1:") for row in rows for value in row if value)
    assert StorageLocation.objects.get(pk=location.pk).credentials() == ("AKIAUPDATED", "s3cr3t-a")
    assert StorageLocation.objects.get(name="b").credentials().access_key_id == "AKIABULK"


def test_credentials_sealed_under_another_secret_key_say_so_and_can_be_entered_again(client_as, s3, settings):
    admin = client_as("admin")
    fields = s3.location_fields(prefix="rekey")
    admin.post("/settings/locations/new/", {"name": "s3loc", **fields})
    location = StorageLocation.objects.get(name="s3loc")
    settings.SECRET_KEY = "the-key-after-a-reinstall-" + "z" * 40
    admin.force_login(User.objects.get(username="admin-user"))  # sessions hang on SECRET_KEY too
    for url in ["/settings/", f"/locations/{location.pk}/", f"/settings/locations/{location.pk}/"]:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "credentials cannot be decrypted: SECRET_KEY changed?" in response.content.decode(), url
    assert location.check_access() == f"storage location s3loc: {UNREADABLE}"
    with pytest.raises(StorageError, match="SECRET_KEY changed"):
        location.store()
    # saving without new credentials is refused, saying why; entering them again fixes it
    kept = {"name": "s3loc", **fields, "access_key_id": "", "secret_access_key": ""}
    refused = admin.post(f"/settings/locations/{location.pk}/", kept)
    assert refused.status_code == 200
    assert f"The stored {UNREADABLE}" in refused.context["form"].errors["access_key_id"]
    assert admin.post(f"/settings/locations/{location.pk}/", {"name": "s3loc", **fields}).status_code == 302
    location.refresh_from_db()
    assert location.credentials() == (s3.access_key_id, s3.secret_access_key)
    assert "SECRET_KEY changed" not in admin.get("/settings/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_migration_seals_existing_rows_and_its_reversal_unseals_them():
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO backups_storagelocation (name, provider, path, bucket, prefix, region,"
                " endpoint_url,"
                ' access_key_id, secret_access_key, "default", read_only, last_check_error)'
                " VALUES ('old', 's3', '', 'b', '', '', '', 'AKIAPLAINTEXT0000', 'plain-secret',"
                " false, false, '')"
            )
        executor = MigrationExecutor(connection)
        executor.migrate([SEALED])
        (pk,) = StorageLocation.objects.filter(name="old").values_list("pk", flat=True)
        access_key_id, secret = raw_credentials(pk)
        assert access_key_id.startswith("fernet1:") and secret.startswith("fernet1:")
        assert "plain-secret" not in secret
        assert StorageLocation.objects.get(pk=pk).credentials() == ("AKIAPLAINTEXT0000", "plain-secret")
        executor = MigrationExecutor(connection)
        executor.migrate([BEFORE])
        assert raw_credentials(pk) == ("AKIAPLAINTEXT0000", "plain-secret")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
