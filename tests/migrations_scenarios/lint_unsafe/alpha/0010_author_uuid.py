import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0009_alter_author_nickname")]

    operations = [
        migrations.AddField(
            model_name="author", name="uuid", field=models.UUIDField(default=uuid.uuid4)
        ),
    ]
