"""Migration 0011 keys the run machinery's rows by run (kind, id): a backup's existing batches,
block runs, hook runs and owed post-hooks become the backup's run's, and going back keeps them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE, AFTER = ("backups", "0010_cluster_status_request_token"), ("backups", "0011_run_keys")
TABLES = ("blockbatch", "blockrun", "hookrun", "owedposthooks")


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def rows(apps, fields):
    return {name: sorted(apps.get_model("backups", name).objects.values_list(*fields)) for name in TABLES}


@pytest.mark.django_db(transaction=True)
def test_existing_rows_become_the_backups_run_and_the_reversal_keeps_them():
    apps = migrate(BEFORE)
    try:
        cluster = apps.get_model("backups", "Cluster").objects.create(name="old", kubeconfig_path="/x")
        made = []
        for name in ("old-1", "old-2"):
            backup = apps.get_model("backups", "Backup").objects.create(name=name, cluster=cluster)
            made.append(backup.pk)
            apps.get_model("backups", "BlockBatch").objects.create(
                backup=backup, number=0, first_block=0, block_count=1, item_count=1
            )
            apps.get_model("backups", "BlockRun").objects.create(
                backup=backup, index=0, batch=0, item_count=1, first_item="pods a/b"
            )
            apps.get_model("backups", "HookRun").objects.create(
                backup=backup, block_index=0, phase="pre", namespace="a", pod="b"
            )
            apps.get_model("backups", "OwedPostHooks").objects.create(
                backup=backup, block_index=0, batch=0, job_id="j", worker="w", created="2026-01-01T00:00Z"
            )

        apps = migrate(AFTER)
        keyed = rows(apps, ("run_kind", "run_id", "backup_id"))
        assert keyed == {name: sorted(("backup", pk, pk) for pk in made) for name in TABLES}

        apps = migrate(BEFORE)
        assert rows(apps, ("backup_id",)) == {name: sorted((pk,) for pk in made) for name in TABLES}
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
