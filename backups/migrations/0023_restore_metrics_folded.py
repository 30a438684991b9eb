"""A restore's run rows folded into MetricTally once it ended, as a backup's are (0022)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0012_restore"),
    ]

    operations = [
        migrations.AddField(
            model_name="restore",
            name="metrics_folded",
            field=models.BooleanField(
                default=False,
                help_text="Its blocks', hooks' and batches' share of the metrics is in MetricTally "
                "(backups.metrics.tally).",
            ),
        ),
    ]
