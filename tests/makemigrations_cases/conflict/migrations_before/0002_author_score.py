from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conflict", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="author", name="score", field=models.IntegerField(null=True)
        ),
    ]
