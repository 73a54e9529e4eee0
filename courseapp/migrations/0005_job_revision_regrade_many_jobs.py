"""A submission may have many grading jobs (the first grading, then one per regrade): GradingJob.submission
becomes a foreign key, and each job records the revision it grades against and its regrade, if any.
The next migration folds the old regrade copies into their originals."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("courseapp", "0004_instructor_policies_overrides_regrades"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gradingjob",
            name="submission",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="jobs", to="courseapp.submission"
            ),
        ),
        migrations.AddField(
            model_name="gradingjob",
            name="revision",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="courseapp.exerciserevision",
            ),
        ),
        migrations.AddField(
            model_name="gradingjob",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="gradingjob",
            name="regrade",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="jobs",
                to="courseapp.regrade",
            ),
        ),
    ]
