from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="author", name="rating", field=models.IntegerField(null=True)
        ),
        migrations.RemoveField(model_name="author", name="bio"),
    ]
