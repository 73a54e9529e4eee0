import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("courseapp", "0006_fold_regrade_copies"),
    ]

    operations = [
        migrations.AlterField(
            model_name="gradingjob",
            name="revision",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, related_name="+", to="courseapp.exerciserevision"
            ),
        ),
        migrations.DeleteModel(name="RegradeItem"),
    ]
