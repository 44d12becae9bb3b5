import uuid

from django.db import migrations, models


def no_preferences():
    return {"newsletter": False}


class Migration(migrations.Migration):
    dependencies = [("alpha", "0003_author_indexes")]

    operations = [
        # Callables that return the same value every time.
        migrations.AddField(
            model_name="author", name="settings", field=models.JSONField(default=dict)
        ),
        migrations.AddField(
            model_name="author",
            name="preferences",
            field=models.JSONField(default=no_preferences),
        ),
        # No default: not a shared default.
        migrations.AddField(
            model_name="author",
            name="score",
            field=models.IntegerField(),
            preserve_default=False,
        ),
        # A different value per call: reported.
        migrations.AddField(
            model_name="author",
            name="token",
            field=models.UUIDField(default=uuid.uuid4),
        ),
    ]
