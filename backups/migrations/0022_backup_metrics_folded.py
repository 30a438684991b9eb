"""The mark of a backup whose blocks', hooks' and batches' metrics were folded into MetricTally
(backups.metrics.tally.fold_ended): a scrape then reads only running backups' rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0016_audit_notifications"),
    ]

    operations = [
        migrations.AddField(
            model_name="backup",
            name="metrics_folded",
            field=models.BooleanField(
                default=False,
                help_text="Its blocks', hooks' and batches' share of the metrics is in MetricTally "
                "(backups.metrics.tally).",
            ),
        ),
    ]
