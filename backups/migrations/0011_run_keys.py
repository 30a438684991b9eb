"""The run machinery's rows keyed by run (kind, id) instead of by backup, so that another kind of
run (a restore) shares batches, block runs, hook runs and owed post-hooks. Existing rows are
backups' runs: run_kind "backup", run_id their backup's id; their `backup` stays set (it deletes
them with the backup) and becomes optional. Reversible while every row is a backup's."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F

RUN_ROWS = ("blockbatch", "blockrun", "hookrun", "owedposthooks")


def backup_runs(apps, schema_editor):
    for name in RUN_ROWS:
        apps.get_model("backups", name).objects.update(run_id=F("backup_id"))


def backup_fk(related_name):
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="backups.backup",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0010_cluster_status_request_token"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name=name, name="run_kind", field=models.CharField(default="backup", max_length=16)
            )
            for name in RUN_ROWS
        ),
        *(
            migrations.AddField(
                model_name=name, name="run_id", field=models.PositiveBigIntegerField(null=True)
            )
            for name in RUN_ROWS
        ),
        migrations.RunPython(backup_runs, migrations.RunPython.noop),
        *(
            migrations.AlterField(model_name=name, name="run_id", field=models.PositiveBigIntegerField())
            for name in RUN_ROWS
        ),
        migrations.AlterField(model_name="blockbatch", name="backup", field=backup_fk("batches")),
        migrations.AlterField(model_name="blockrun", name="backup", field=backup_fk("blocks")),
        migrations.AlterField(model_name="hookrun", name="backup", field=backup_fk("hook_runs")),
        migrations.AlterField(model_name="owedposthooks", name="backup", field=backup_fk("owed_post_hooks")),
        migrations.RemoveConstraint(model_name="blockbatch", name="unique_batch_number"),
        migrations.RemoveConstraint(model_name="blockrun", name="unique_block_index"),
        migrations.RemoveConstraint(model_name="owedposthooks", name="unique_owed_block"),
        migrations.RemoveIndex(model_name="blockbatch", name="backups_blo_backup__39bec0_idx"),
        migrations.AddIndex(
            model_name="blockbatch",
            index=models.Index(fields=["run_kind", "run_id", "state"], name="backups_batch_run_state"),
        ),
        migrations.AddConstraint(
            model_name="blockbatch",
            constraint=models.UniqueConstraint(
                fields=("run_kind", "run_id", "number"), name="unique_run_batch_number"
            ),
        ),
        migrations.AddConstraint(
            model_name="blockrun",
            constraint=models.UniqueConstraint(
                fields=("run_kind", "run_id", "index"), name="unique_run_block_index"
            ),
        ),
        migrations.AddConstraint(
            model_name="owedposthooks",
            constraint=models.UniqueConstraint(
                fields=("run_kind", "run_id", "block_index"), name="unique_run_owed_block"
            ),
        ),
        migrations.AlterModelOptions(
            name="blockbatch", options={"ordering": ["run_kind", "run_id", "number"]}
        ),
        migrations.AlterModelOptions(name="blockrun", options={"ordering": ["run_kind", "run_id", "index"]}),
        migrations.AlterModelOptions(
            name="hookrun", options={"ordering": ["run_kind", "run_id", "started", "id"]}
        ),
    ]
