"""The mark of a backup whose blocks', hooks' and batches' metrics were folded into MetricTally
(backups.metrics.tally.fold_ended): a scrape then reads only running backups' rows."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0021_merge_0015_api_tokens_0020_merge_timings"),
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
