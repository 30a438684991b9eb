"""Storage credentials sealed at rest (veloweb.crypto): the columns become text (a sealed value is
longer than the 200 characters it seals), then existing rows are sealed with the current
SECRET_KEY. Reversed, they are unsealed back to plaintext; a value no key opens stops the reversal
with the location's name, and nothing is changed."""

from django.db import migrations

import veloweb.crypto

FIELDS = ("access_key_id", "secret_access_key")


def _rewrite(apps, schema_editor, convert):
    """Rewrite each row's credentials with `convert`, in plain SQL: the ORM would seal again."""
    location = apps.get_model("backups", "StorageLocation")
    connection = schema_editor.connection
    quote = connection.ops.quote_name
    table = quote(location._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name, {', '.join(map(quote, FIELDS))} FROM {table}")
        rows = cursor.fetchall()
        for pk, name, *values in rows:
            try:
                new = [convert(value or "") for value in values]
            except veloweb.crypto.Unreadable as error:
                raise RuntimeError(f"storage location {name}: {error}") from None
            if new != [value or "" for value in values]:
                assignments = ", ".join(f"{quote(field)} = %s" for field in FIELDS)
                cursor.execute(f"UPDATE {table} SET {assignments} WHERE id = %s", [*new, pk])


def seal_credentials(apps, schema_editor):
    _rewrite(apps, schema_editor, veloweb.crypto.seal)


def unseal_credentials(apps, schema_editor):
    _rewrite(apps, schema_editor, veloweb.crypto.reveal)


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0006_cancel"),
    ]

    operations = [
        migrations.AlterField(
            model_name="storagelocation",
            name="access_key_id",
            field=veloweb.crypto.SealedField(blank=True),
        ),
        migrations.AlterField(
            model_name="storagelocation",
            name="secret_access_key",
            field=veloweb.crypto.SealedField(blank=True),
        ),
        migrations.RunPython(seal_credentials, unseal_credentials),
    ]
