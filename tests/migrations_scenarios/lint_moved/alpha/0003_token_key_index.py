from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("alpha", "0002_move_checkin")]

    operations = [
        migrations.AddIndex(
            model_name="token",
            index=models.Index(fields=["key"], name="token_key_idx"),
        ),
    ]
