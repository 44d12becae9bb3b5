from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("beta", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="checkin",
            index=models.Index(fields=["code"], name="checkin_code_idx"),
        ),
    ]
