from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("merge_conflict", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="foo", name="first", field=models.IntegerField(null=True)
        ),
    ]
