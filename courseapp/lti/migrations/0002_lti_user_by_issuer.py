"""Users are found by (issuer, sub), not per registration: one account per person of an issuer."""

from django.db import migrations, models


def fill_issuer(apps, schema_editor):
    LtiUser = apps.get_model("lti", "LtiUser")
    for link in LtiUser.objects.select_related("platform"):
        link.issuer = link.platform.issuer
        link.save(update_fields=["issuer"])


class Migration(migrations.Migration):
    dependencies = [
        ("lti", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="ltiuser", name="lti_user_platform_sub"),
        migrations.AddField(model_name="ltiuser", name="issuer", field=models.URLField(max_length=500, null=True)),
        migrations.RunPython(fill_issuer, migrations.RunPython.noop),
        migrations.AlterField(model_name="ltiuser", name="issuer", field=models.URLField(max_length=500)),
        migrations.AlterField(
            model_name="ltiuser",
            name="platform",
            field=models.ForeignKey(
                help_text="the registration that first launched them",
                on_delete=models.deletion.CASCADE,
                related_name="users",
                to="lti.platform",
            ),
        ),
        migrations.AddConstraint(
            model_name="ltiuser",
            constraint=models.UniqueConstraint(fields=("issuer", "sub"), name="lti_user_issuer_sub"),
        ),
    ]
